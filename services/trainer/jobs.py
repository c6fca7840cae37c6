"""The training job: a plain function of plain data (the config as JSON), run by an RQ worker.

A resubmitted or restarted job with the same payload continues its run folder from the newest
checkpoint (see :mod:`zerosearch.trainer.run_dir`), so a killed worker loses at most one interval.

    job = submit_train(conn, load_train_config("configs/cpu-tiny.yaml"))
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from rq import get_current_job
from rq.job import Job

from zerosearch.common.queue import QueueName, enqueue, report_progress
from zerosearch.trainer.config import TrainConfig, parse_train_config

__all__ = ["TRAIN_JOB", "run_train_job", "submit_train"]

log = logging.getLogger(__name__)

TRAIN_JOB = "zerosearch.trainer.jobs.run_train_job"
"""Dotted path of the job function (what ``train submit`` enqueues)."""


def run_train_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate the payload, train (or resume), enqueue eval jobs on the same Redis; return the summary."""
    from zerosearch.trainer.grpo import train

    config = parse_train_config(payload, source="train job payload")
    job = get_current_job()
    conn = job.connection if job is not None else None
    report_progress(state="starting", step=0, total=config.steps, run_dir=str(config.output_dir))
    result = train(config, conn=conn)
    report_progress(state="finished", step=result["steps"], total=config.steps, eval_jobs=result["eval_jobs"])
    return result


def submit_train(conn: redis.Redis, config: TrainConfig, *, job_id: str | None = None) -> Job:
    """Enqueue ``config`` on the ``train`` queue; the payload is the config as plain JSON."""
    payload = config.model_dump(mode="json")
    description = f"train {config.model} ({config.algorithm}, {config.steps} steps) → {config.output_dir}"
    return enqueue(conn, QueueName.TRAIN, TRAIN_JOB, payload, job_id=job_id, description=description)
