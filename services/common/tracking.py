"""Experiment tracking for training runs: where TRL's and our metrics are reported (``report_to``).

    report_to: auto          # in a training or simulation-tuning config: auto | none | tensorboard | wandb | trackio

``auto`` (the default) reports to TensorBoard when the ``tensorboard`` package is installed (the trainer
extra installs it) and nowhere otherwise; every tracker runs offline unless the user says otherwise:
TensorBoard writes event files under the run folder, W&B runs with ``WANDB_MODE=offline`` unless that
variable is set (``wandb sync`` uploads later), Trackio is local-first by design.

    report_targets("auto", run_dir / "tensorboard")   # → ["tensorboard"] and TENSORBOARD_LOGGING_DIR set
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Literal

from zerosearch.common.errors import ConfigError

__all__ = ["REPORT_TO_HELP", "TENSORBOARD_DIR", "ReportTo", "report_targets"]

log = logging.getLogger(__name__)

ReportTo = Literal["auto", "none", "tensorboard", "wandb", "trackio"]

REPORT_TO_HELP = (
    "Experiment tracker: auto (TensorBoard when installed), none, tensorboard, wandb (offline unless "
    "WANDB_MODE is set) or trackio; TRL's metrics and ours go to the same stream."
)
"""The help text of every ``report_to`` field."""

TENSORBOARD_DIR = "tensorboard"
"""Folder of a run's TensorBoard event files, under the run (or output) folder."""

_PACKAGE = {"tensorboard": "tensorboard", "wandb": "wandb", "trackio": "trackio"}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def report_targets(report_to: str, logging_dir: Path | None = None) -> list[str]:
    """transformers' ``report_to`` list for ``report_to``; a missing tracker package is a ConfigError.

    With TensorBoard, ``logging_dir`` (the run's ``tensorboard/`` folder) is where the events go
    (transformers 5 reads it from ``TENSORBOARD_LOGGING_DIR``).
    """
    if report_to == "none":
        return []
    if report_to == "auto":
        if not _installed("tensorboard"):
            log.info("report_to auto: tensorboard is not installed, so metrics go to metrics.jsonl only")
            return []
        report_to = "tensorboard"
    package = _PACKAGE.get(report_to)
    if package is None:
        raise ConfigError(
            f"report_to must be one of auto, none, tensorboard, wandb, trackio; got {report_to!r}",
            param="report_to",
        )
    if not _installed(package):
        raise ConfigError(
            f"report_to {report_to!r} needs the {package} package: pip install {package}", param="report_to"
        )
    if report_to == "wandb":
        os.environ.setdefault("WANDB_MODE", "offline")
    if report_to == "tensorboard" and logging_dir is not None:
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(logging_dir)
    return [report_to]
