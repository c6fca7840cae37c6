"""Follow RQ jobs with a rich progress bar until they end: the one follower of ``train|eval|sft submit
--follow`` and of the demo.

Each bar is driven by the job's meta (``step`` or ``done`` of ``total``, plus reward, noise p, running EM
or the stage when present), so the same code shows a training, an evaluation and a tuning pipeline.

    result = follow_job(conn, job.id)                       # the job's return value, or ServerError
    jobs = follow_jobs(conn, {"train": job.id}, timeout_s=900, discover=new_eval_jobs)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rq.job import Job, JobStatus

from zerosearch.common.errors import ServerError

__all__ = ["ENDED", "describe_meta", "follow_job", "follow_jobs", "job_result"]

ENDED = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.STOPPED})
"""Job states after which nothing changes any more."""

Discover = Callable[[], dict[str, str]]


def describe_meta(meta: dict[str, Any]) -> str:
    """A short line from a job's meta: reward, noise p, dataset and running EM, stage or state."""
    parts = []
    if meta.get("mean_reward") is not None:
        parts.append(f"reward {meta['mean_reward']:.3f}")
    if meta.get("noise_p") is not None:
        parts.append(f"noise p {meta['noise_p']:.3f}")
    if meta.get("running_em") is not None:
        parts.append(f"{meta.get('dataset', '')} EM {meta['running_em']:.1f}".strip())
    if meta.get("stage") or meta.get("state"):
        parts.append(str(meta.get("stage") or meta.get("state")))
    return " · ".join(parts)


def job_result(job: Job) -> Any:
    """The return value of a finished job; otherwise ServerError with the state and the failure's last line."""
    status = job.get_status(refresh=True)
    if status == JobStatus.FINISHED:
        return job.return_value()
    latest = job.latest_result()
    last = (latest.exc_string or "").strip().splitlines()[-1:] if latest is not None else []
    reason = last[0] if last else "no error recorded"
    raise ServerError(f"job {job.id} ({job.description}) ended {status}: {reason}")


def follow_jobs(
    conn: redis.Redis,
    jobs: dict[str, str],
    *,
    timeout_s: float | None = None,
    discover: Discover | None = None,
    console: Console | None = None,
    poll_s: float = 0.5,
) -> dict[str, Job]:
    """Show one bar per job (label → id) until every job has ended; ``discover`` may add jobs as they
    appear (e.g. the eval jobs a training enqueues). Returns the jobs by label; raises ServerError when
    ``timeout_s`` passes first."""
    jobs = dict(jobs)
    fetched: dict[str, Job] = {}
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console or Console()) as bars:
        tasks = {label: bars.add_task(label, total=None) for label in jobs}
        while deadline is None or time.monotonic() < deadline:
            for label, job_id in (discover() if discover else {}).items():
                if label not in jobs:
                    jobs[label], tasks[label] = job_id, bars.add_task(label, total=None)
            pending = False
            for label, job_id in jobs.items():
                job = fetched.get(label) or Job.fetch(job_id, connection=conn)
                fetched[label] = job
                meta, status = job.get_meta(refresh=True), job.get_status(refresh=True)
                done = meta.get("step", meta.get("done")) or 0
                text = f"{label} [{status}] {describe_meta(meta)}".rstrip()
                bars.update(tasks[label], total=meta.get("total"), completed=done, description=text)
                pending |= status not in ENDED
            if not pending:
                return fetched
            time.sleep(poll_s)
    raise ServerError(f"jobs still running after {timeout_s:.0f}s: {', '.join(jobs)}")


def follow_job(
    conn: redis.Redis,
    job_id: str,
    *,
    label: str | None = None,
    timeout_s: float | None = None,
    console: Console | None = None,
) -> Any:
    """Follow one job with a bar; return its result, or raise ServerError with why it failed."""
    label = label or f"job {job_id}"
    jobs = follow_jobs(conn, {label: job_id}, timeout_s=timeout_s, console=console)
    return job_result(jobs[label])
