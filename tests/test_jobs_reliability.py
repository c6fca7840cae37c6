"""Jobs that survive their worker: real eval workers and work horses SIGKILLed at seeded random points.

Each seed submits one small evaluation (6 NQ questions, method direct, one question a batch), waits until
the job has scored a random number of questions (plus a random delay, so some kills land mid-question),
then kills either the work horse (the OOM killer) or the whole worker with its horse (the pod dies). The
job must come back by itself (same worker for a horse, RQ's registry cleanup for a dead worker), resume
from its partial predictions and end with exactly the uninterrupted run's question set: none lost, none
twice. The figures (re-runs, lost, duplicated) are logged as ``reliability figures`` for docs/deployment.md.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from rq.job import Job, JobStatus
from typer.testing import CliRunner

from zerosearch.common.processes import Supervisor, zerosearch_command
from zerosearch.common.queue import QueueName, get_queue
from zerosearch.evaluator.config import EvalConfig
from zerosearch.evaluator.jobs import submit_eval
from zerosearch.evaluator.runner import load_datasets

pytestmark = [pytest.mark.slow, pytest.mark.model]

log = logging.getLogger(__name__)

_ENV = {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
_QUESTIONS = 6
_SEEDS = (0, 1, 2)


def _children(pid: int) -> list[Any]:
    import psutil

    return psutil.Process(pid).children(recursive=True)


def _kill(pid: int, *, whole_worker: bool) -> None:
    """SIGKILL the work horse (children of the worker), and the worker too when ``whole_worker``."""
    import psutil

    targets = [*_children(pid), *([psutil.Process(pid)] if whole_worker else [])]
    assert targets, "no work horse to kill"
    for process in targets:
        process.send_signal(signal.SIGKILL)


def _wait(job: Job, done: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job.refresh()
        if job.get_status() == JobStatus.STARTED and job.meta.get("done", 0) >= done:
            return
        time.sleep(0.1)
    raise AssertionError(f"job did not reach {done} questions in {timeout_s}s: {job.meta}")


def _wait_finished(job: Job, worker: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status in (JobStatus.FINISHED, JobStatus.FAILED):
            assert status == JobStatus.FINISHED, worker.tail(40)
            return
        time.sleep(0.2)
    raise AssertionError(f"job not finished in {timeout_s}s:\n{worker.tail(40)}")


def _start_worker(sup: Supervisor, name: str, redis_url: str) -> Any:
    return sup.start(name, zerosearch_command("evaluator", "worker"), env={"REDIS_URL": redis_url, **_ENV})


def _one_seed(seed: int, sup: Supervisor, worker: Any, tmp_path: Path, redis_url: str, redis_conn, data_dir):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    whole_worker = seed % 2 == 1  # alternate, so both kinds of death are covered
    kill_at = rng.randint(1, _QUESTIONS - 1)
    out = tmp_path / f"seed-{seed}"
    config = EvalConfig(datasets=["nq"], method="direct", limit=_QUESTIONS, batch_size=1, max_new_tokens=8,
                        cpu_threads=1, data_dir=data_dir, out=out, seed=seed)  # fmt: skip
    expected = [item.id for item in load_datasets(config)["nq"]]  # what an uninterrupted run scores
    job = submit_eval(redis_conn, config)

    _wait(job, kill_at, timeout_s=240)
    time.sleep(rng.uniform(0.0, 0.5))
    _kill(worker.process.pid, whole_worker=whole_worker)
    if whole_worker:
        worker.process.wait(timeout=10)
        job.refresh()
        assert job.get_status() == JobStatus.STARTED and job.meta["state"] == "running"  # they agree
        # RQ's maintenance re-enqueues it once the heartbeat expired (~90 s); run that cleanup as of an
        # hour later instead of sleeping, then a new worker (the restarted pod) takes it.
        get_queue(redis_conn, QueueName.EVAL).started_job_registry.cleanup(timestamp=time.time() + 3600)
        job.refresh()
        assert job.get_status() == JobStatus.QUEUED and job.meta["state"] == "queued"
        worker = _start_worker(sup, f"worker-{seed}", redis_url)
    _wait_finished(job, worker, timeout_s=240)

    job.refresh()
    meta = job.meta
    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    ids = [record["id"] for record in lines]
    figures = {
        "seed": seed,
        "killed": "worker+horse" if whole_worker else "horse",
        "kill_after_questions": kill_at,
        "attempts": meta["attempt"],
        "taken_over": meta["resumed"],
        "questions": len(ids),
        "lost": len(set(expected) - set(ids)),
        "duplicated": len(ids) - len(set(ids)),
    }
    assert ids == expected and figures["lost"] == figures["duplicated"] == 0, figures
    assert meta["state"] == "finished" and meta["attempt"] == 2 and len(meta["failures"]) == 1, meta
    reason = meta["failures"][0]["reason"]
    assert ("abandoned" in reason) if whole_worker else ("killed by signal 9" in reason), reason
    # Resumed, not restarted: at least the questions reported done at the kill were taken over.
    assert kill_at <= meta["resumed"] < _QUESTIONS, figures
    assert not list(out.glob("*.partial*"))
    return figures, worker, job.id


def test_killed_workers_and_horses_lose_nothing_and_score_nothing_twice(
    tmp_path, redis_url, redis_conn, data_dir
) -> None:
    from zerosearch.cli import app

    figures = []
    with Supervisor(log_dir=tmp_path / "logs") as sup:
        worker = _start_worker(sup, "worker", redis_url)
        for seed in _SEEDS:
            row, worker, job_id = _one_seed(seed, sup, worker, tmp_path, redis_url, redis_conn, data_dir)
            figures.append(row)
    log.info("reliability figures: %s", json.dumps(figures))
    shown = CliRunner().invoke(app, ["jobs", "show", job_id], env={"REDIS_URL": redis_url})
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.output)
    assert info["attempt"] == "2/3" and info["status"] == "finished" and info["last_failure"]
    assert sum(r["lost"] + r["duplicated"] for r in figures) == 0
