"""What the eval verbs show a user: the results table, and submitting a job then following it.

job_id = submit_main(EvalConfig(datasets=["nq"], limit=20), wait=True)
"""

from __future__ import annotations

from typing import Any

import redis
import typer
from rich.console import Console
from rich.table import Table

from zerosearch.common.connection import connect
from zerosearch.common.errors import ConfigError
from zerosearch.common.follow import follow_job
from zerosearch.common.settings import get_common_settings
from zerosearch.evaluator.config import EvalConfig
from zerosearch.evaluator.jobs import submit_eval
from zerosearch.evaluator.scoring import METRICS

__all__ = ["print_summary", "submit_main"]


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
            result = follow_job(conn, job.id, label=f"eval {job.id}")
            print_summary(result)
    finally:
        conn.close()
    return job.id
