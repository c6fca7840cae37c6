"""Everyone enqueues evaluation through ``submit_eval``: one payload builder, one job path (real Redis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rq.job import Job

from zerosearch.common.errors import ConfigError
from zerosearch.common.queue import QueueName, get_queue
from zerosearch.evaluator.config import build_eval_config
from zerosearch.evaluator.jobs import EVAL_JOB, submit_eval
from zerosearch.trainer.callbacks import EvalEnqueuer
from zerosearch.trainer.config import EvalAfterCheckpoint
from zerosearch.trainer.run_dir import RunDir


def test_submit_eval_payload_is_the_validated_config(redis_conn) -> None:  # type: ignore[no-untyped-def]
    config = build_eval_config({"datasets": "nq,bamboogle", "limit": 3})
    job = submit_eval(redis_conn, config, description="eval check")
    stored = Job.fetch(job.id, connection=redis_conn)
    assert stored.func_name == EVAL_JOB
    assert stored.origin == QueueName.EVAL
    assert stored.description == "eval check"
    assert build_eval_config(stored.args[0]) == config


def test_trainer_enqueuer_goes_through_submit_eval(tmp_path: Path, redis_conn) -> None:  # type: ignore[no-untyped-def]
    settings = EvalAfterCheckpoint(datasets=["bamboogle"], limit=2, extra={"top_k": 4})
    run_dir = RunDir(tmp_path / "run")
    run_dir.root.mkdir()
    enqueuer = EvalEnqueuer(redis_conn, settings, run_dir, None)
    job_id = enqueuer(tmp_path / "run" / "checkpoint-2", "checkpoint-2")
    job = Job.fetch(job_id, connection=redis_conn)
    assert job.func_name == EVAL_JOB and job_id in get_queue(redis_conn, QueueName.EVAL).job_ids
    config = build_eval_config(job.args[0])
    assert (config.datasets, config.limit, config.top_k) == (["bamboogle"], 2, 4)
    assert config.out == run_dir.eval_dir("checkpoint-2")
    assert (run_dir.root / "eval_jobs.jsonl").read_text().count(job_id) == 1


def test_trainer_enqueuer_refuses_a_bad_eval_field_before_enqueueing(tmp_path: Path, redis_conn) -> None:  # type: ignore[no-untyped-def]
    settings = EvalAfterCheckpoint(extra={"top_k": 0})
    enqueuer = EvalEnqueuer(redis_conn, settings, RunDir(tmp_path), None)
    with pytest.raises(ConfigError, match="top_k"):
        enqueuer(tmp_path / "checkpoint-1", "checkpoint-1")
    assert get_queue(redis_conn, QueueName.EVAL).count == 0
