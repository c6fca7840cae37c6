"""Eval jobs through a real Redis and real worker processes (`zerosearch evaluator worker`).

Shrunk for CI time: method direct/agent on 2 questions with 8-16 new tokens; one torch thread per worker
(the machine's cores are shared, see conftest).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from rq.job import Job, JobStatus
from typer.testing import CliRunner

from zerosearch.common.processes import Supervisor, zerosearch_command
from zerosearch.common.queue import QueueName, get_queue
from zerosearch.evaluator.config import EvalConfig
from zerosearch.evaluator.jobs import submit_eval

pytestmark = [pytest.mark.slow, pytest.mark.model]

_ENV = {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def test_submit_then_burst_worker_round_trip(tmp_path, redis_url, redis_conn, data_dir) -> None:
    from zerosearch.cli import app

    out = tmp_path / "job-out"
    args = ["eval", "submit", "--datasets", "bamboogle", "--limit", "2", "--max-turns", "1", "--max-new-tokens",
            "16", "--cpu-threads", "1", "--data-dir", str(data_dir), "--out", str(out)]  # fmt: skip
    submitted = CliRunner().invoke(app, args, env={"REDIS_URL": redis_url})
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.output.strip().splitlines()[-1]
    assert Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.QUEUED

    with Supervisor(log_dir=tmp_path / "logs") as sup:
        worker = sup.start("worker", zerosearch_command("evaluator", "worker", "--burst"),
                           env={"REDIS_URL": redis_url, **_ENV})  # fmt: skip
        worker.process.wait(timeout=300)  # --burst: exits once the queue is empty
        assert worker.process.returncode == 0, worker.tail()

    job = Job.fetch(job_id, connection=redis_conn)
    assert job.get_status() == JobStatus.FINISHED, worker.tail()
    assert job.meta["state"] == "finished" and job.meta["done"] == job.meta["total"] == 2
    result = job.return_value()
    assert result["datasets"]["bamboogle"]["n"] == 2 and result["run"]["out_dir"] == str(out)
    assert json.loads((out / "results.json").read_text())["macro"] == result["macro"]
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 2


def _kill_tree(pid: int) -> None:
    """SIGKILL a worker and its work horse, as when the machine or pod dies mid-job.

    RQ's work horse calls setpgrp(), so killing the worker's process group alone would leave it running.
    """
    import psutil

    worker = psutil.Process(pid)
    for process in [*worker.children(recursive=True), worker]:
        process.send_signal(signal.SIGKILL)


def _wait_for_progress(job: Job, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job.refresh()
        if job.meta.get("done", 0) >= 1 and job.get_status() == JobStatus.STARTED:
            return
        time.sleep(0.2)
    raise AssertionError(f"job made no progress in {timeout_s}s: {job.meta}")


def test_killed_worker_leaves_job_abandoned_and_rerun_does_not_mix(
    tmp_path, redis_url, redis_conn, data_dir, bundled_policy
) -> None:
    out = tmp_path / "killed"
    # 40 questions one at a time: long enough to be killed between two batches.
    config = EvalConfig(datasets=["nq"], method="direct", limit=40, batch_size=1, max_new_tokens=8,
                        cpu_threads=1, data_dir=data_dir, out=out)  # fmt: skip
    job = submit_eval(redis_conn, config)
    with Supervisor(log_dir=tmp_path / "logs") as sup:
        worker = sup.start(
            "worker", zerosearch_command("evaluator", "worker"), env={"REDIS_URL": redis_url, **_ENV}
        )
        _wait_for_progress(job, timeout_s=240)
        _kill_tree(worker.process.pid)
        worker.process.wait(timeout=10)

    registry = get_queue(redis_conn, QueueName.EVAL).started_job_registry
    assert job.id in registry.get_job_ids(cleanup=False)  # still "started": nobody is left to say otherwise
    # RQ's maintenance moves a started job whose heartbeat expired (monitoring interval + 60 s) to the failed
    # registry; run that cleanup as of an hour later instead of sleeping through the expiry.
    registry.cleanup(timestamp=time.time() + 3600)
    job.refresh()
    # At-least-once (common.attempts): re-enqueued for its second attempt, and the meta says so.
    assert job.get_status() == JobStatus.QUEUED and job.meta["state"] == "queued" and job.meta["attempt"] == 2
    assert job.id in get_queue(redis_conn, QueueName.EVAL).get_job_ids()

    # The killed run left only its partial file: no results, no predictions.jsonl to mistake for a full run.
    assert (out / "predictions.jsonl.partial").read_text().strip()
    assert not (out / "predictions.jsonl").exists() and not (out / "results.json").exists()

    from zerosearch.evaluator.runner import main

    rerun = config.model_copy(update={"limit": 2})
    results = main(rerun, policy=bundled_policy)
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert results["datasets"]["nq"]["n"] == 2 and len(lines) == 2  # nothing carried over from the killed run
    assert not list(Path(out).glob("*.partial"))
