"""The experiment file: which arms (one training config file each), seeds, held-out sizes, evaluation.

    experiment = load_experiment("configs/experiment/experiment.yaml", seeds=[1])

Every field is validated when the file is read; a bad value raises a ConfigError naming the field
(``arms.1.kind: ...``) and what is allowed.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zerosearch.common.config_file import read_config_file
from zerosearch.common.errors import ConfigError

__all__ = ["Arm", "ArmKind", "ExperimentConfig", "load_experiment", "parse_experiment"]

_STRICT = ConfigDict(extra="forbid")
_KNOWN_DATASETS = ("nq", "hotpotqa")


class ArmKind(enum.StrEnum):
    """What an arm trains: nothing after the cold start, or GRPO on top of it."""

    COLD_START = "cold_start"
    GRPO = "grpo"


class Arm(BaseModel):
    """One arm: a name, its training config file, and whether it runs GRPO."""

    model_config = _STRICT

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Label: lower-case, digits, - and _."
    )
    config: Path = Field(description="Training config file (relative paths: to the experiment file).")
    kind: ArmKind = Field(default=ArmKind.GRPO, description="cold_start (evaluate the cold start) or grpo.")


class ExperimentConfig(BaseModel):
    """The whole experiment: every arm runs once per seed on the same split, evaluated the same way."""

    model_config = _STRICT

    arms: list[Arm] = Field(min_length=1, description="The arms, run in this order for each seed.")
    seeds: list[int] = Field(default=[1, 2, 3], min_length=1, max_length=100, description="Training seeds.")
    heldout: dict[str, int] = Field(
        default_factory=lambda: {"nq": 20, "hotpotqa": 10},
        description="Held-out questions per dataset (never trained on), evaluated for every arm.",
    )
    train_questions: int = Field(default=128, ge=2, le=100_000, description="Training questions (all sets).")
    grpo_pool: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="GRPO trains on this many answerable training questions (gold answer in the BM25 "
        "top-k of the question; no yes/no), evenly over the datasets; the cold start on the others. "
        "Unset: GRPO trains on every training question.",
    )
    split_seed: int = Field(
        default=0, ge=0, description="Seed of the held-out/train split (same for every arm)."
    )
    steps: int | None = Field(
        default=None, ge=1, le=100_000, description="GRPO steps (default: each config's)."
    )
    eval_search: str = Field(
        default="bm25", description="Search backend of every evaluation (a real engine)."
    )
    timeout_s: float = Field(default=4 * 3600.0, gt=0, description="Longest wait for one arm's jobs.")

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: list[int]) -> list[int]:
        if any(seed < 0 for seed in value) or len(set(value)) != len(value):
            raise ValueError(f"seeds must be distinct integers ≥ 0, got {value}")
        return value

    @field_validator("heldout")
    @classmethod
    def _heldout(cls, value: dict[str, int]) -> dict[str, int]:
        for name, count in value.items():
            if name not in _KNOWN_DATASETS:
                raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(_KNOWN_DATASETS)}")
            if not 1 <= count <= 10_000:
                raise ValueError(f"{name}: held-out questions must be in [1, 10000], got {count}")
        if not value:
            raise ValueError("give at least one held-out dataset (nq, hotpotqa)")
        return value

    @model_validator(mode="after")
    def _arms(self) -> ExperimentConfig:
        names = [arm.name for arm in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be distinct, got {names}")
        if not any(arm.kind is ArmKind.GRPO for arm in self.arms):
            raise ValueError(
                "arms: give at least one grpo arm (its cold start is the cold_start arm's model)"
            )
        return self

    def grpo_arms(self) -> list[Arm]:
        """The arms that train with GRPO, in order."""
        return [arm for arm in self.arms if arm.kind is ArmKind.GRPO]


def parse_experiment(
    data: dict[str, Any], *, base: Path | None = None, source: str = "experiment"
) -> ExperimentConfig:
    """Validate a mapping into an ExperimentConfig (arm config paths resolved against ``base``)."""
    try:
        experiment = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError.from_validation(exc, source) from exc
    for index, arm in enumerate(experiment.arms):
        path = arm.config if arm.config.is_absolute() or base is None else base / arm.config
        if not path.is_file():
            raise ConfigError(
                f"invalid {source}: arms.{index}.config: file not found: {path}", param=f"arms.{index}.config"
            )
        arm.config = path.resolve()
    return experiment


def load_experiment(path: str | Path, **overrides: Any) -> ExperimentConfig:
    """Read an experiment file; ``overrides`` given (not None) replace its top-level fields."""
    path = Path(path)
    data = read_config_file(path)
    data.update({key: value for key, value in overrides.items() if value is not None})
    return parse_experiment(data, base=path.parent, source=path.name)
