"""Each arm's training job for one seed: its config file with the experiment's split, seed, steps and
evaluation on top, validated by the trainer's own model.

The arms of one seed share one cold start: the first GRPO arm runs it (``<run>/cold_start``), the later ones
start GRPO from that folder, and the ``cold_start`` arm evaluates it. So arms differ by their GRPO stage only.
That needs the same model and cold-start block in every arm's file; :func:`check_shared_cold_start` says
which arm differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from zerosearch.common.config_file import read_config_file
from zerosearch.common.errors import ConfigError
from zerosearch.experiment.config import Arm, ExperimentConfig
from zerosearch.trainer.config import TrainConfig, parse_train_config

__all__ = ["SplitFiles", "arm_dir", "check_shared_cold_start", "train_payload"]


class SplitFiles(NamedTuple):
    """The experiment's split: held-out files, GRPO's training files and, when GRPO trains on a pool
    (``grpo_pool``), the cold start's own files (else it draws from the training files)."""

    heldout: list[Path]
    train: list[Path]
    cold_start: list[Path] | None = None


def arm_dir(out: Path, arm: Arm, seed: int) -> Path:
    """Where one arm's run for one seed lives: ``<out>/<arm>/seed-<seed>``."""
    return out / arm.name / f"seed-{seed}"


def train_payload(
    experiment: ExperimentConfig,
    arm: Arm,
    seed: int,
    out: Path,
    split: SplitFiles,
    *,
    simulator_url: str,
    cold_start_model: Path | None = None,
) -> dict[str, Any]:
    """The arm's training job for ``seed`` (validated); ``cold_start_model`` replaces its cold start."""
    payload = read_config_file(arm.config)
    payload.update(
        simulator_url=simulator_url,
        datasets=[str(p) for p in split.train],
        train_limit=None,
        seed=seed,
        output_dir=str(arm_dir(out, arm, seed) / "train"),
    )
    if experiment.steps is not None:
        payload["steps"] = experiment.steps
    payload["checkpoint_interval"] = int(payload.get("steps", 1)) + 1  # only the final model is evaluated
    if split.cold_start is not None:
        payload["cold_start"] = {
            **dict(payload.get("cold_start") or {}),
            "datasets": [str(p) for p in split.cold_start],
        }
    if cold_start_model is not None:
        payload["model"] = str(cold_start_model)
        payload["cold_start"] = {**dict(payload.get("cold_start") or {}), "enabled": False}
    evaluation = dict(payload.get("eval") or {})
    # Every arm is scored on the same held-out files, with the same engine, all questions.
    evaluation.update(
        enabled=True, datasets=[str(p) for p in split.heldout], limit=None, search=experiment.eval_search
    )
    payload["eval"] = evaluation
    parse_train_config(payload, source=f"arm {arm.name} ({arm.config.name})")
    return payload


def _cold_start_key(config: TrainConfig) -> dict[str, Any]:
    return {
        "model": config.model,
        "cold_start": config.cold_start.model_dump(mode="json"),
        "max_turns": config.rollout.max_turns,  # the demonstrations follow the loop's turn limit
    }


def check_shared_cold_start(experiment: ExperimentConfig, split: SplitFiles, out: Path) -> None:
    """Refuse arms whose model or cold-start block differ from the first GRPO arm's (one line naming both)."""
    first = experiment.grpo_arms()[0]
    keys = {}
    for arm in experiment.arms:
        payload = train_payload(experiment, arm, 0, out, split, simulator_url="http://127.0.0.1:1")
        config = parse_train_config(payload, source=arm.name)
        if not config.cold_start.enabled:
            raise ConfigError(
                f"arm {arm.name}: cold_start.enabled must be true (every arm starts from the cold start)",
                param="cold_start.enabled",
            )
        keys[arm.name] = _cold_start_key(config)
    for arm in experiment.arms:
        if keys[arm.name] != keys[first.name]:
            raise ConfigError(
                f"arm {arm.name} ({arm.config.name}): model, cold_start or rollout.max_turns differ from arm "
                f"{first.name}'s; the arms share one cold start, so give them the same",
                param="cold_start",
            )
