"""Trainer callbacks: one metrics line per step (+ job progress), and an ``eval`` job per checkpoint.

trainer.add_callback(MetricsCallback(run_dir, rollout, total_steps=config.steps))
trainer.add_callback(EvalCallback(EvalEnqueuer(conn, config.eval, run_dir)))
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from zerosearch.common.queue import report_progress
from zerosearch.evaluator.config import build_eval_config
from zerosearch.evaluator.jobs import submit_eval
from zerosearch.trainer.config import EvalAfterCheckpoint
from zerosearch.trainer.distributed import is_main_process
from zerosearch.trainer.rollout import SearchRollout
from zerosearch.trainer.run_dir import RunDir

__all__ = ["EvalCallback", "EvalEnqueuer", "MetricsCallback", "eval_payload"]

log = logging.getLogger(__name__)

# TRL log keys → our metric names (the rest of TRL's logs are kept under their own names).
_RENAMES = {
    "reward": "reward",
    "reward_std": "reward_std",
    "loss": "loss",
    "kl": "kl",
    "completions/mean_length": "response_length",
    "entropy": "entropy",
    "learning_rate": "learning_rate",
}

ProgressHook = Callable[[dict[str, Any]], None]


class MetricsCallback(TrainerCallback):
    """After each step: a ``metrics.jsonl`` line, the RQ job meta, and an optional progress hook (CLI)."""

    def __init__(
        self,
        run_dir: RunDir,
        rollout: SearchRollout,
        *,
        total_steps: int,
        on_progress: ProgressHook | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.rollout = rollout
        self.total_steps = total_steps
        self.on_progress = on_progress
        self._step_start = time.perf_counter()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Start the step clock."""
        self._step_start = time.perf_counter()

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Write the step's line; TRL logs once per step (logging_steps=1)."""
        if not logs or "reward" not in logs:
            return  # the end-of-training summary (train_runtime, ...) is not a step
        if not is_main_process():  # (transformers 5's training state says "process zero" on every rank)
            return  # rank 0 writes the run's metrics (the rollout stats are merged over ranks)
        line: dict[str, Any] = {"step": int(state.global_step), "total_steps": self.total_steps}
        for key, value in logs.items():
            if isinstance(value, int | float):
                line[_RENAMES.get(key, key)] = float(value)
        stats = self.rollout.last_stats
        if stats is not None:
            line.update(stats.as_metrics())
        line["step_seconds"] = time.perf_counter() - self._step_start
        line["time"] = time.time()
        with self.run_dir.metrics_file.open("a") as out:
            out.write(json.dumps(line) + "\n")
        progress = {
            "state": "training",
            "step": line["step"],
            "total": self.total_steps,
            "mean_reward": round(line.get("reward", 0.0), 4),
            "noise_p": round(line.get("noise_p", 0.0), 4),
            "searches_per_rollout": round(line.get("searches_per_rollout", 0.0), 3),
            "tokens_per_s": round(line.get("rollout_tokens_per_s", 0.0), 1),
        }
        report_progress(**progress)
        if self.on_progress is not None:
            self.on_progress(progress)


def eval_payload(
    settings: EvalAfterCheckpoint, model_dir: Path, out_dir: Path, data_dir: Path | None
) -> dict:
    """The evaluator's EvalConfig fields for one checkpoint, as plain JSON; ``settings.rollout`` holds the
    limits (the run's rollout block with the eval section's overrides, once the TrainConfig resolved it)."""
    payload: dict[str, Any] = {
        "model": str(model_dir),
        "datasets": list(settings.datasets),
        "method": "agent",
        "search": settings.search,
        "limit": settings.limit,
        "rollout": dict(settings.rollout),
        "out": str(out_dir),
        **settings.extra,
    }
    if data_dir is not None:
        payload.setdefault("data_dir", str(data_dir))
    return payload


class EvalEnqueuer:
    """Enqueues the evaluator's job for a saved model; without a Redis connection it says so in the log."""

    def __init__(
        self, conn: Any, settings: EvalAfterCheckpoint, run_dir: RunDir, data_dir: Path | None
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.run_dir = run_dir
        self.data_dir = data_dir
        self.job_ids: list[str] = []

    def __call__(self, model_dir: Path, name: str) -> str | None:
        """Enqueue the eval of ``model_dir`` on ``eval``; return the job id (None when disabled)."""
        if not self.settings.enabled or not is_main_process():
            return None  # under a launcher, rank 0 enqueues
        if self.conn is None:
            log.warning("no Redis connection: eval job for %s NOT enqueued (set REDIS_URL)", name)
            return None
        payload = eval_payload(self.settings, model_dir, self.run_dir.eval_dir(name), self.data_dir)
        config = build_eval_config(payload)
        job = submit_eval(self.conn, config, description=f"eval {self.run_dir.root.name}/{name}")
        self.job_ids.append(job.id)
        with (self.run_dir.root / "eval_jobs.jsonl").open("a") as out:
            out.write(json.dumps({"checkpoint": name, "job_id": job.id, "model": str(model_dir)}) + "\n")
        log.info("enqueued eval job %s for %s", job.id, name)
        return job.id


class EvalCallback(TrainerCallback):
    """After every checkpoint save: enqueue its evaluation."""

    def __init__(self, enqueuer: EvalEnqueuer) -> None:
        self.enqueuer = enqueuer

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """HF calls this after ``checkpoint-<global_step>`` is fully written."""
        name = f"checkpoint-{state.global_step}"
        if state.max_steps and state.global_step >= state.max_steps:
            # The last step's checkpoint holds the final model's weights: evaluated once, as "final".
            log.info("%s is the final model: its eval is the final one", name)
            return
        self.enqueuer(Path(args.output_dir) / name, name)
