"""Simulation tuning as one RQ job on the ``sft`` queue: collect → label → build → train.

The job function takes plain data (the :class:`~zerosearch.tuning.config.SFTPipelineConfig` as a
dict) and reports its stage and progress in ``job.meta`` (``zerosearch jobs show <id>``). Collection
resumes from its file, so a re-submitted job after a crash does not redo the questions already collected.

    job = submit(conn, SFTPipelineConfig(work_dir=Path("runs/sft-nq")))
    # a worker: zerosearch trainer worker --queues train,sft
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from rq.job import Job

from zerosearch.common.queue import QueueName, enqueue, report_progress
from zerosearch.tuning import build, collect, label, train
from zerosearch.tuning.config import SFTPipelineConfig, parse_sft_config

__all__ = ["JOB_FUNCTION", "run_pipeline", "run_sft_job", "submit"]

log = logging.getLogger(__name__)

JOB_FUNCTION = "zerosearch.tuning.jobs.run_sft_job"
"""Dotted path RQ imports in the worker."""


def run_pipeline(config: SFTPipelineConfig) -> dict[str, Any]:
    """Run the four stages in order; each stage's report is in the returned dict (plain JSON data)."""
    reports: dict[str, Any] = {}
    stages = (
        ("collect", lambda: collect.main(config.collect)),
        ("label", lambda: label.main(config.label)),
        ("build", lambda: build.main(config.build)),
        ("train", lambda: train.main(config.train)),
    )
    for number, (name, run) in enumerate(stages, start=1):
        report_progress(state="running", stage=name, stage_number=number, stages=len(stages))
        log.info("sft pipeline: stage %d/%d %s", number, len(stages), name)
        reports[name] = run().model_dump(mode="json")
    report_progress(state="finished", stage="done", model=str(config.train.output_dir))
    return reports


def run_sft_job(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point: validate the payload, run the pipeline, return the stage reports."""
    config = parse_sft_config(payload, source="sft job payload")
    return run_pipeline(config)


def submit(conn: redis.Redis, config: SFTPipelineConfig, *, job_id: str | None = None) -> Job:
    """Enqueue the pipeline on the ``sft`` queue."""
    return enqueue(
        conn,
        QueueName.SFT,
        JOB_FUNCTION,
        config.model_dump(mode="json"),
        job_id=job_id,
        description=f"sft: {config.collect.questions} → {config.train.output_dir}",
    )
