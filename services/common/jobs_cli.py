"""``zerosearch jobs list|show``: the state of jobs on any queue, read from RQ's own registries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rq.exceptions import NoSuchJobError
from rq.job import Job

from zerosearch.common.attempts import attempt_summary
from zerosearch.common.connection import redis_connection
from zerosearch.common.errors import ClientError
from zerosearch.common.queue import QueueName, get_queue
from zerosearch.common.settings import get_common_settings

__all__ = ["ConfigFileOption", "FollowOption", "app"]

app = typer.Typer(help="Inspect jobs on the train, eval and sft queues.", no_args_is_help=True)

FollowOption = Annotated[
    bool,
    typer.Option(
        "--follow/--no-follow", "--wait/--no-wait", help="Follow the job with a progress bar until it ends."
    ),
]
"""``submit --follow`` of every queue (``--wait`` is the older name)."""

ConfigFileOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML file of the run config's fields; flags given win.")
]
"""``--config FILE`` of every verb that takes a run config (read by common.config_file)."""

QueueOption = Annotated[
    list[QueueName] | None, typer.Option("--queue", "-q", help="Queue(s) to list; default all.")
]


def _status(job: Job) -> str:
    """The job's RQ status as its plain name (``finished``), not the enum's repr."""
    status = job.get_status()
    return str(getattr(status, "value", status))


def _registries(queue):  # type: ignore[no-untyped-def]
    return {
        "queued": queue.get_job_ids(),
        "started": queue.started_job_registry.get_job_ids(),
        "finished": queue.finished_job_registry.get_job_ids(),
        "failed": queue.failed_job_registry.get_job_ids(),
        "canceled": queue.canceled_job_registry.get_job_ids(),
    }


@app.command("list")
def list_jobs(queue: QueueOption = None) -> None:
    """List jobs with their state and progress."""
    console = Console()
    table = Table("queue", "job", "status", "progress", "description")
    with redis_connection(get_common_settings().redis_url) as conn:
        for name in queue or list(QueueName):
            q = get_queue(conn, name)
            for _, ids in _registries(q).items():
                for job in q.job_class.fetch_many(ids, connection=conn):
                    if job is None:
                        continue
                    meta = {
                        k: v for k, v in job.meta.items() if k not in ("state", "failures", "last_failure")
                    }
                    progress = ", ".join(f"{k}={v}" for k, v in list(meta.items())[:4])
                    table.add_row(str(name), job.id, _status(job), progress, job.description or "")
    console.print(table)


@app.command("show")
def show_job(job_id: Annotated[str, typer.Argument(help="The job id.")]) -> None:
    """Show one job: status, attempt (``n/max``) and the last death's reason, meta, result or the failure."""
    with redis_connection(get_common_settings().redis_url) as conn:
        try:
            job = Job.fetch(job_id, connection=conn)
        except NoSuchJobError as exc:
            raise ClientError(f"no job with id {job_id!r}", param="job_id") from exc
        info = {
            "id": job.id,
            "queue": job.origin,
            "status": _status(job),
            "description": job.description,
            "enqueued_at": str(job.enqueued_at),
            "ended_at": str(job.ended_at),
            **attempt_summary(job),
            "meta": job.meta,
        }
        latest = job.latest_result()
        if latest is not None:
            info["result"] = latest.return_value if latest.type == latest.Type.SUCCESSFUL else None
            if latest.type != latest.Type.SUCCESSFUL:
                info["error"] = (latest.exc_string or "").strip().splitlines()[-1:]
    Console().print_json(json.dumps(info, default=str))
