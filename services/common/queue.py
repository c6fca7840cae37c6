"""RQ helpers: the three queues, enqueueing plain-data jobs, progress in job meta, and workers.

Jobs are plain importable functions of plain data (a dict payload), as RQ recommends. Progress goes into
``job.meta`` (:func:`report_progress`); results and tracebacks stay in RQ's own registries, so a failed
or abandoned job is visible with RQ's tools as well as ``zerosearch jobs``. Jobs are at-least-once: one
whose worker or work horse dies is re-enqueued up to ``max_attempts`` runs in all
(:mod:`zerosearch.common.attempts`), so job functions must resume, never redo, finished work.

    job = enqueue(conn, QueueName.EVAL, "zerosearch.evaluator.jobs.run_eval_job", {"model": "..."})
"""

from __future__ import annotations

import enum
import logging
from typing import Any

import redis
from rq import Queue, Worker, get_current_job
from rq.job import Job

from zerosearch.common.attempts import (
    DEFAULT_MAX_ATTEMPTS,
    MAINTENANCE_INTERVAL_S,
    attempt_meta,
    failure_callback,
    on_work_horse_killed,
    retry_policy,
    success_callback,
)
from zerosearch.common.defaults import (
    JOB_RESULT_TTL_S,
    JOB_TIMEOUT_S,
    QUEUE_EVAL,
    QUEUE_SFT,
    QUEUE_TRAIN,
)

__all__ = ["QueueName", "enqueue", "get_queue", "report_progress", "run_worker"]

log = logging.getLogger(__name__)


class QueueName(enum.StrEnum):
    """The platform's RQ queues (train, eval, sft)."""

    TRAIN = QUEUE_TRAIN
    EVAL = QUEUE_EVAL
    SFT = QUEUE_SFT


def get_queue(conn: redis.Redis, name: QueueName | str) -> Queue:
    """The RQ queue ``name`` on ``conn``."""
    return Queue(str(QueueName(name)), connection=conn, default_timeout=JOB_TIMEOUT_S)


def enqueue(
    conn: redis.Redis,
    queue: QueueName | str,
    func: str,
    payload: dict[str, Any],
    *,
    job_id: str | None = None,
    description: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Job:
    """Enqueue ``func(payload)`` (a dotted path) on ``queue``, run up to ``max_attempts`` times if it dies.

    Meta starts as ``{"state": "queued", "attempt": 1, "max_attempts": ..., "failures": []}``.
    """
    retry = retry_policy(max_attempts)  # validates max_attempts before anything is enqueued
    job = get_queue(conn, queue).enqueue(
        func,
        payload,
        job_id=job_id,
        description=description or f"{queue}: {func.rsplit('.', 1)[-1]}",
        result_ttl=JOB_RESULT_TTL_S,
        failure_ttl=JOB_RESULT_TTL_S,
        meta=attempt_meta(max_attempts),
        retry=retry,
        on_failure=failure_callback(),
        on_success=success_callback(),
    )
    log.info("enqueued %s on %s", job.id, queue)
    return job


def report_progress(**meta: Any) -> None:
    """Merge ``meta`` into the current RQ job's meta (no-op outside a job, e.g. foreground runs).

    Progress is best effort: while Redis is unreachable the job goes on (a warning is logged) and the next
    report writes the merged meta, so a short Redis outage does not kill a long evaluation or training.
    """
    job = get_current_job()
    if job is None:
        return
    job.meta.update(meta)
    try:
        job.save_meta()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        log.warning(
            "job %s: progress not saved, Redis unreachable (%s); will retry at the next report", job.id, exc
        )


def run_worker(
    conn: redis.Redis, queues: list[QueueName | str], *, burst: bool = False, name: str | None = None
) -> bool:
    """Consume ``queues`` until stopped (or until empty with ``burst``); returns whether work was done.

    The worker records a killed work horse in the job's meta before RQ re-enqueues the job, and cleans the
    registries every ``MAINTENANCE_INTERVAL_S`` so that jobs of dead workers are re-enqueued within minutes.
    After a Redis outage RQ's dequeue loop reconnects with exponential backoff.
    """
    worker = Worker(
        [get_queue(conn, q) for q in queues],
        connection=conn,
        name=name,
        work_horse_killed_handler=on_work_horse_killed,
        maintenance_interval=MAINTENANCE_INTERVAL_S,
    )
    log.info("worker %s on %s", worker.name, ", ".join(str(QueueName(q)) for q in queues))
    return bool(worker.work(burst=burst, with_scheduler=False))
