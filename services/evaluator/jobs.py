"""The RQ job of the evaluator: ``run_eval_job(payload)`` on the ``eval`` queue.

The payload is the EvalConfig as plain JSON (the trainer enqueues one per checkpoint, with ``model`` set to
the checkpoint folder). Progress goes to the job's meta after every batch (``done``, ``total``,
``running_em``, ``dataset``); the return value (stored by RQ on the job) is the results summary plus the
output folder, and the full report is written to that folder as for ``zerosearch eval run``.

Jobs are at-least-once (common.attempts): a run re-enqueued after its worker died writes to the same
folder and resumes from the predictions the dead run left (evaluator.resume), so no question is lost and
none is scored twice; meta ``resumed`` says how many questions the run took over.

    job = submit_eval(conn, EvalConfig(model="runs/train/checkpoint-50", datasets=["nq"], limit=100))
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import redis
from rq import get_current_job
from rq.job import Job

from zerosearch.common.queue import QueueName, enqueue, report_progress
from zerosearch.evaluator.config import EvalConfig, build_eval_config
from zerosearch.evaluator.runner import EvalProgress, main

__all__ = ["EVAL_JOB", "run_eval_job", "submit_eval"]

log = logging.getLogger(__name__)

EVAL_JOB = "zerosearch.evaluator.jobs.run_eval_job"
"""Dotted path RQ imports to run an evaluation job."""


def _report(progress: EvalProgress) -> None:
    report_progress(
        state="running",
        dataset=progress.dataset,
        done=progress.done,
        total=progress.total,
        running_em=progress.running_em,
    )


def run_eval_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Run one evaluation from a plain-JSON payload; return ``{datasets, macro, run}`` (JSON-safe)."""
    config = build_eval_config(payload)
    job = get_current_job()
    earlier = job.meta.get("out_dir") if job is not None else None
    # Fix the output folder now so meta, result and disk agree even when the payload left it unset; a
    # re-run after a death takes the folder its first attempt chose, to resume there.
    out = Path(earlier) if config.out is None and earlier else config.output_dir()
    config = config.model_copy(update={"out": out})
    report_progress(state="loading", done=0, out_dir=str(config.out))
    results = main(config, on_progress=_report, resume=True)
    report_progress(
        state="finished",
        done=results["run"]["questions"],
        macro=results["macro"],
        resumed=results["run"]["resumed"],
    )
    return {key: results[key] for key in ("datasets", "macro", "run")}


def submit_eval(
    conn: redis.Redis, config: EvalConfig, *, job_id: str | None = None, description: str | None = None
) -> Job:
    """Enqueue ``config`` on the eval queue (the only place that builds the eval job's payload and path)."""
    payload = config.model_dump(mode="json")
    description = description or f"eval {config.model} on {','.join(config.datasets)} ({config.method})"
    return enqueue(conn, QueueName.EVAL, EVAL_JOB, payload, job_id=job_id, description=description)
