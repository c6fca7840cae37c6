"""What the eval verbs show a user: the results table, and submitting a job then following it.

job_id = submit_main(EvalConfig(datasets=["nq"], limit=20), wait=True)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rq.job import Job, JobStatus

from zerosearch.common.connection import connect
from zerosearch.common.errors import ConfigError, ServerError
from zerosearch.common.settings import get_common_settings
from zerosearch.evaluator.config import EvalConfig
from zerosearch.evaluator.jobs import submit_eval
from zerosearch.evaluator.scoring import METRICS

__all__ = ["print_summary", "submit_main", "wait_for_job"]

_ENDED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


def print_summary(results: dict[str, Any], console: Console | None = None) -> None:
    """Print per-dataset scores (%) and the macro average as a rich table, then the output folder."""
    console = console or Console()
    table = Table("dataset", "n", *METRICS, "searches/q", "answer %", title="results (%)")
    for name, d in results["datasets"].items():
        table.add_row(
            name,
            str(d["n"]),
            *(f"{d[m]:.2f}" for m in METRICS),
            f"{d['searches_per_question']:.2f}",
            f"{d['answer_rate']:.1f}",
        )
    macro = results["macro"]
    table.add_row(
        "macro", "", *(f"{macro[m]:.2f}" for m in METRICS), f"{macro['searches_per_question']:.2f}", ""
    )
    console.print(table)
    console.print(f"report: {results['run']['out_dir']}")


def wait_for_job(
    job: Job,
    *,
    on_meta: Callable[[dict[str, Any]], None] | None = None,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
) -> Any:
    """Poll ``job`` until it ends; return its result, or raise ServerError with the failure's last line."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        status = job.get_status(refresh=True)
        job.refresh()
        if on_meta is not None:
            on_meta(dict(job.meta))
        if status == JobStatus.FINISHED:
            return job.return_value()
        if status in _ENDED:
            latest = job.latest_result()
            last = (latest.exc_string or "").strip().splitlines()[-1:] if latest is not None else []
            raise ServerError(f"job {job.id} {status}: {last[0] if last else 'no error recorded'}")
        if deadline is not None and time.monotonic() > deadline:
            raise ServerError(f"job {job.id} still {status} after {timeout_s:.0f}s")
        time.sleep(poll_s)


def _follow(job: Job) -> Any:
    """Wait for the job with a rich bar driven by its meta (done/total, running EM)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as bar:
        task = bar.add_task(f"job {job.id}: queued", total=None)

        def show(meta: dict[str, Any]) -> None:
            desc = f"job {job.id}: {meta.get('state', '?')}"
            if "running_em" in meta:
                desc += f" · {meta.get('dataset', '')} · EM {meta['running_em']:.1f}"
            bar.update(task, completed=meta.get("done", 0), total=meta.get("total"), description=desc)

        return wait_for_job(job, on_meta=show)


def submit_main(config: EvalConfig, *, wait: bool = False, redis_url: str | None = None) -> str:
    """Enqueue ``config`` on the eval queue, echo the job id; with ``wait`` follow it and print results."""
    url = redis_url or get_common_settings().redis_url
    if not url:
        # An embedded Redis would vanish with this command, and no worker could ever see the job.
        raise ConfigError("eval submit needs REDIS_URL (the Redis your workers use)", param="REDIS_URL")
    if config.out is not None:
        config = config.model_copy(update={"out": config.out.resolve()})  # the worker's cwd may differ
    conn: redis.Redis = connect(url)
    try:
        job = submit_eval(conn, config)
        typer.echo(job.id)
        if wait:
            result = _follow(job)
            print_summary(result)
    finally:
        conn.close()
    return job.id
