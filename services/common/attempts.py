"""At-least-once jobs: a job whose worker or work horse dies is re-enqueued, a bounded number of times.

RQ's own model does the work; this module only decides and records. Every job is enqueued with
``Retry(max=max_attempts - 1)`` and :func:`on_job_failure` as its failure callback, and every worker runs
with :func:`on_work_horse_killed` as its ``work_horse_killed_handler``. The three ways a job can die then
end in the same place:

- its work horse is killed (OOM killer, ``kill -9``): the worker sees the horse's exit status, calls
  :func:`on_work_horse_killed`, and RQ re-enqueues the job while ``retries_left`` lasts;
- its whole worker dies: the job stays STARTED until its heartbeat expires; the next registry cleanup of
  any worker (RQ's maintenance, every :data:`MAINTENANCE_INTERVAL_S`) raises ``AbandonedJobError`` through
  :func:`on_job_failure` and re-enqueues it;
- the job raises: transient errors (connection and timeout errors) are retried, anything else (a bad
  payload, a bug) fails at once, since running it again would fail the same way.

Each death is written to the job's meta, so RQ's status and the meta's ``state`` never disagree:
``attempt`` (1-based) and ``max_attempts``, ``state`` (``queued`` again, or ``failed`` when the attempts
are spent) and ``failures``, one ``{attempt, reason, at}`` per death. The job function itself resumes
(evaluation from its partial predictions, training from its newest checkpoint).

    enqueue(conn, QueueName.EVAL, EVAL_JOB, payload)   # attempts and callback set here
    attempt_summary(Job.fetch(job_id, connection=conn))  # {"attempt": "2/3", "last_failure": ...}
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

import redis
from rq import Callback, Retry
from rq.exceptions import AbandonedJobError
from rq.job import Job

from zerosearch.common.errors import ConfigError, RedisUnavailableError

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "MAINTENANCE_INTERVAL_S",
    "MAX_ATTEMPTS_LIMIT",
    "attempt_meta",
    "attempt_summary",
    "failure_callback",
    "is_transient",
    "on_job_failure",
    "on_job_success",
    "on_work_horse_killed",
    "retry_policy",
    "success_callback",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 3
"""Runs a job gets in all (the first plus two re-runs after a death)."""

MAX_ATTEMPTS_LIMIT = 20
"""Upper bound of ``max_attempts``: a job that died 20 times will not be saved by a 21st run."""

MAINTENANCE_INTERVAL_S = 60
"""How often a worker cleans the registries (re-enqueues abandoned jobs); RQ's default is 600 s."""

_TRANSIENT = (
    ConnectionError,
    TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    RedisUnavailableError,
)


def retry_policy(max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Retry | None:
    """RQ's ``Retry`` for ``max_attempts`` runs in all (None for one run); ConfigError when out of range."""
    if not 1 <= max_attempts <= MAX_ATTEMPTS_LIMIT:
        raise ConfigError(
            f"max_attempts must be between 1 and {MAX_ATTEMPTS_LIMIT}, got {max_attempts}",
            param="max_attempts",
        )
    return Retry(max=max_attempts - 1) if max_attempts > 1 else None


def attempt_meta(max_attempts: int) -> dict[str, Any]:
    """The meta a job starts with: queued, first attempt of ``max_attempts``, no failures yet."""
    return {"state": "queued", "attempt": 1, "max_attempts": max_attempts, "failures": []}


def failure_callback() -> Callback:
    """The ``on_failure`` callback every job is enqueued with (runs on raised and abandoned jobs)."""
    return Callback(on_job_failure)


def success_callback() -> Callback:
    """The ``on_success`` callback every job is enqueued with (meta ``state`` becomes ``finished``)."""
    return Callback(on_job_success)


def on_job_success(job: Job, connection: redis.Redis, result: Any, *args: Any, **kwargs: Any) -> None:
    """RQ success callback: a finished job's meta says ``finished`` whatever the job reported last."""
    if job.meta.get("state") != "finished":
        job.meta["state"] = "finished"
        job.save_meta()


def is_transient(exc: BaseException | None) -> bool:
    """Whether running the job again may succeed: a death (abandoned) or a connection/timeout error."""
    return isinstance(exc, (AbandonedJobError, *_TRANSIENT))


def _record(job: Job, reason: str, *, retry: bool) -> None:
    """Write one death into the job's meta: a new attempt queued, or failed for good."""
    meta = job.meta
    attempt = int(meta.get("attempt", 1))
    failures = [*meta.get("failures", []), {"attempt": attempt, "reason": reason, "at": _now()}]
    meta["failures"] = failures[-MAX_ATTEMPTS_LIMIT:]
    meta["last_failure"] = reason
    if retry:
        meta.update(state="queued", attempt=attempt + 1)
        log.warning("job %s: attempt %d died (%s); re-enqueued", job.id, attempt, reason)
    else:
        meta.update(state="failed")
        log.warning("job %s: attempt %d failed (%s); no attempts left", job.id, attempt, reason)
    job.save_meta()


def on_job_failure(job: Job, connection: redis.Redis, exc_type: Any, exc_value: Any, tb: Any) -> None:
    """RQ failure callback: record the death in meta; only transient failures keep their retries.

    RQ calls it in the work horse when the job raises, and in registry cleanup when the job was abandoned
    (its worker died); RQ then re-enqueues the job if ``retries_left`` is still positive.
    """
    transient = is_transient(exc_value)
    if not transient:
        job.retries_left = 0  # a deterministic failure: another run would fail the same way
    if isinstance(exc_value, AbandonedJobError):
        job.get_meta(refresh=True)  # fetched by another process: take the meta the dead run left
        reason = "abandoned: its worker stopped sending heartbeats (worker killed or lost)"
    else:
        reason = f"{getattr(exc_type, '__name__', 'error')}: {exc_value}".strip()
    _record(job, reason[:500], retry=transient and job.should_retry)


def on_work_horse_killed(job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
    """Worker hook: the work horse running ``job`` died without finishing (killed by a signal, OOM)."""
    job.get_meta(refresh=True)  # the worker's copy predates the horse's progress reports
    if ret_val and os.WIFSIGNALED(ret_val):
        reason = f"work horse {retpid} killed by signal {os.WTERMSIG(ret_val)}"
    else:
        reason = f"work horse {retpid} exited with status {ret_val}"
    _record(job, reason, retry=job.should_retry)


def attempt_summary(job: Job) -> dict[str, Any]:
    """What ``jobs show`` prints about attempts: ``attempt`` as ``n/max``, retries left, the last failure."""
    meta = job.meta
    max_attempts = meta.get("max_attempts")
    attempt = meta.get("attempt", 1)
    return {
        "attempt": f"{attempt}/{max_attempts}" if max_attempts else str(attempt),
        "retries_left": job.retries_left or 0,
        "last_failure": meta.get("last_failure"),
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
