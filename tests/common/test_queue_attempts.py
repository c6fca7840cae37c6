"""At-least-once jobs on a real Redis with real forking RQ workers: deaths re-enqueue, meta follows status.

The job functions below run in RQ work horses (forked from this process, or from a worker subprocess
that imports this module), so they are plain module-level functions.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rq import get_current_job
from rq.job import Job, JobStatus
from typer.testing import CliRunner

from zerosearch.common.attempts import DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS_LIMIT, is_transient
from zerosearch.common.errors import ConfigError
from zerosearch.common.queue import QueueName, enqueue, get_queue, report_progress, run_worker

_ROOT = Path(__file__).resolve().parents[2]
_HERE = "tests.common.test_queue_attempts"


def kill_own_horse_on_first_attempt(payload: dict[str, Any]) -> str:
    """Report progress, then SIGKILL this work horse on attempt 1 (the OOM killer); succeed later."""
    job = get_current_job()
    report_progress(state="running", done=1)
    if job is not None and job.meta["attempt"] == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return "done"


def always_kill_own_horse(payload: dict[str, Any]) -> str:
    """A job whose horse dies on every attempt."""
    report_progress(state="running")
    os.kill(os.getpid(), signal.SIGKILL)
    return "unreachable"


def raise_connection_error(payload: dict[str, Any]) -> None:
    """A transient failure on every attempt."""
    raise ConnectionError("search backend went away")


def raise_config_error(payload: dict[str, Any]) -> None:
    """A deterministic failure: retrying cannot help."""
    raise ValueError("bad payload field 'limit'")


def kill_worker_on_first_attempt(payload: dict[str, Any]) -> str:
    """Attempt 1: SIGKILL the worker process and then this horse (the pod dies); later attempts succeed."""
    job = get_current_job()
    report_progress(state="running")
    if job is not None and job.meta["attempt"] == 1:
        os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
    return "resumed"


def _enqueue(conn, func: str, **kwargs: Any) -> Job:  # type: ignore[no-untyped-def]
    return enqueue(conn, QueueName.SFT, f"{_HERE}.{func}", {"x": 1}, **kwargs)


def test_enqueue_sets_attempts_and_validates_max(redis_conn) -> None:
    job = _enqueue(redis_conn, "raise_config_error")
    assert job.meta == {"state": "queued", "attempt": 1, "max_attempts": DEFAULT_MAX_ATTEMPTS, "failures": []}
    assert job.retries_left == DEFAULT_MAX_ATTEMPTS - 1
    assert Job.fetch(job.id, connection=redis_conn).failure_callback is not None
    assert _enqueue(redis_conn, "raise_config_error", max_attempts=1).retries_left is None
    for bad in (0, MAX_ATTEMPTS_LIMIT + 1):
        with pytest.raises(ConfigError, match="max_attempts must be between 1 and 20") as err:
            _enqueue(redis_conn, "raise_config_error", max_attempts=bad)
        assert err.value.param == "max_attempts"


def test_transient_errors_only() -> None:
    assert is_transient(ConnectionError()) and is_transient(TimeoutError())
    assert not is_transient(ValueError()) and not is_transient(None)


def test_killed_work_horse_is_rerun_and_meta_says_why(redis_conn) -> None:
    job = _enqueue(redis_conn, "kill_own_horse_on_first_attempt")
    run_worker(redis_conn, [QueueName.SFT], burst=True)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == "done"
    assert job.meta["attempt"] == 2 and job.meta["state"] == "finished"  # not the job's last "running"
    [failure] = job.meta["failures"]
    assert failure["attempt"] == 1 and "killed by signal 9" in failure["reason"]


def test_attempts_are_bounded_and_the_end_is_failed_in_status_and_meta(redis_conn) -> None:
    job = _enqueue(redis_conn, "always_kill_own_horse", max_attempts=2)
    run_worker(redis_conn, [QueueName.SFT], burst=True)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED and job.meta["state"] == "failed"
    assert [f["attempt"] for f in job.meta["failures"]] == [1, 2] and job.meta["attempt"] == 2


def test_transient_exception_retried_deterministic_one_not(redis_conn) -> None:
    transient = _enqueue(redis_conn, "raise_connection_error")
    fatal = _enqueue(redis_conn, "raise_config_error")
    run_worker(redis_conn, [QueueName.SFT], burst=True)
    transient.refresh()
    fatal.refresh()
    assert transient.get_status() == JobStatus.FAILED and transient.meta["state"] == "failed"
    assert len(transient.meta["failures"]) == DEFAULT_MAX_ATTEMPTS
    assert transient.meta["last_failure"] == "ConnectionError: search backend went away"
    assert fatal.get_status() == JobStatus.FAILED and fatal.meta["state"] == "failed"
    assert len(fatal.meta["failures"]) == 1 and fatal.retries_left == 0


def test_dead_worker_job_is_reenqueued_by_cleanup_and_shown(redis_url, redis_conn) -> None:
    job = _enqueue(redis_conn, "kill_worker_on_first_attempt")
    code = "import sys; from zerosearch.common.connection import connect; from zerosearch.common.queue import run_worker; run_worker(connect(sys.argv[1]), ['sft'], burst=True)"  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_ROOT), os.environ.get("PYTHONPATH", "")])}
    worker = subprocess.run(
        [sys.executable, "-c", code, redis_url], cwd=_ROOT, env=env, timeout=120, check=False
    )
    assert worker.returncode == -signal.SIGKILL

    registry = get_queue(redis_conn, QueueName.SFT).started_job_registry
    job.refresh()
    # Nobody is left to say otherwise: STARTED, and the meta agrees (running).
    assert job.get_status() == JobStatus.STARTED and job.meta["state"] == "running"
    # RQ's maintenance (every worker, MAINTENANCE_INTERVAL_S) re-enqueues it once the heartbeat expired;
    # run that cleanup as of an hour later instead of sleeping through the expiry.
    registry.cleanup(timestamp=time.time() + 3600)
    job.refresh()
    assert job.get_status() == JobStatus.QUEUED and job.meta["state"] == "queued" and job.meta["attempt"] == 2
    assert job.meta["last_failure"].startswith("abandoned")

    from zerosearch.cli import app

    shown = CliRunner().invoke(app, ["jobs", "show", job.id], env={"REDIS_URL": redis_url})
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.output)
    assert info["attempt"] == f"2/{DEFAULT_MAX_ATTEMPTS}" and info["last_failure"].startswith("abandoned")
    assert info["retries_left"] == DEFAULT_MAX_ATTEMPTS - 2 and info["status"] == "queued"

    run_worker(redis_conn, [QueueName.SFT], burst=True)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == "resumed"


def return_ok(payload: dict[str, Any]) -> str:
    """A job that just succeeds."""
    return "ok"


def _wait_status(job: Job, status: JobStatus, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if job.get_status(refresh=True) == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job.id} not {status} within {timeout_s}s: {job.get_status()}")


@pytest.mark.slow
def test_worker_reconnects_after_a_redis_outage(tmp_path) -> None:
    from zerosearch.common.connection import EmbeddedRedis, connect

    first = EmbeddedRedis().start()
    code = "import sys; from zerosearch.common.connection import connect; from zerosearch.common.queue import run_worker; run_worker(connect(sys.argv[1]), ['sft'])"  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_ROOT), os.environ.get("PYTHONPATH", "")])}
    with (tmp_path / "worker.log").open("wb") as log_file:
        worker = subprocess.Popen([sys.executable, "-c", code, first.url], cwd=_ROOT, env=env,
                                  stdout=log_file, stderr=subprocess.STDOUT)  # fmt: skip
    second = None
    try:
        conn = connect(first.url)
        _wait_status(_enqueue(conn, "return_ok"), JobStatus.FINISHED, timeout_s=60)
        first.stop()  # Redis goes away (its data too: nothing persisted)
        time.sleep(3)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        second = EmbeddedRedis(port=first.port).start()  # back on the same address
        conn = connect(second.url)
        job = _enqueue(conn, "return_ok")
        _wait_status(job, JobStatus.FINISHED, timeout_s=90)  # the same worker process took it
        assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait(timeout=10)
        if second is not None:
            second.stop()


def test_progress_report_survives_a_redis_outage(caplog) -> None:
    from rq.job import _current_job  # how RQ makes a job current in its work horse

    from zerosearch.common.connection import EmbeddedRedis, connect

    server = EmbeddedRedis().start()
    job = _enqueue(connect(server.url), "return_ok")
    token = _current_job.set(job)
    try:
        server.stop()
        report_progress(state="running", done=3)  # must not raise: the job goes on
    finally:
        _current_job.reset(token)
    assert job.meta["done"] == 3 and "progress not saved, Redis unreachable" in caplog.text
