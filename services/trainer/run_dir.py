"""The run folder: its layout, the config snapshot that guards it, and where a restarted run resumes.

    <output_dir>/
      train_config.json      the config the run started with (a different config is refused: no clobbering)
      cold_start/            the cold-start SFT model (an HF folder), when enabled
      checkpoint-<step>/     HF checkpoints with optimizer, scheduler, RNG and trainer state
      final/                 the final model (HF folder)
      metrics.jsonl          one line per step
      plots/*.png            reward, noise p, searches, response length
      eval/<name>/           where the eval job of each checkpoint writes

A restarted or resubmitted job with the same config resumes from the newest complete checkpoint:
the optimizer, the step and therefore the curriculum (a pure function of the step) continue.

Under a launcher (torchrun / accelerate launch) only rank 0 locks, writes the snapshot and trims the
metrics; the other ranks get rank 0's decision (the checkpoint to resume from, or its error). A run's
world size is part of its snapshot, so a checkpoint resumes only with the same number of ranks.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from zerosearch.common.errors import ConfigError
from zerosearch.common.io import read_jsonl
from zerosearch.trainer.distributed import (
    barrier,
    broadcast_from_main,
    current_ranks,
    init_distributed,
    run_on_main,
)

__all__ = ["HeldByRankZero", "RunDir", "checkpoint_step"]

log = logging.getLogger(__name__)

_LOCK_NAME = ".lock"
_POOL_NAME = "pool.json"  # may be there before the run: a pool chosen elsewhere (the experiment's first arm)
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# Fields that may change between a run and its resumption without changing what is trained.
# ``processes`` only says how many ranks a job starts; the ranks that trained are ``world_size``.
_RESUMABLE_CHANGES = frozenset(
    {"resume", "eval", "simulator_url", "search_retry", "checkpoint_interval", "processes"}
)
_WORLD_SIZE = "world_size"


def checkpoint_step(path: Path) -> int | None:
    """The step of a ``checkpoint-<step>`` folder, else None."""
    match = _CHECKPOINT.match(path.name)
    return int(match.group(1)) if match else None


class HeldByRankZero:
    """What ranks other than 0 hold: rank 0 has the folder's lock for them."""

    def release(self) -> None:
        """Nothing to release on this rank."""


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run folder and the checks that keep runs apart."""

    root: Path

    @property
    def config_file(self) -> Path:
        """The config snapshot written at the first start."""
        return self.root / "train_config.json"

    @property
    def metrics_file(self) -> Path:
        """One JSON line per training step."""
        return self.root / "metrics.jsonl"

    @property
    def cold_start_dir(self) -> Path:
        """The cold-start SFT model."""
        return self.root / "cold_start"

    @property
    def final_dir(self) -> Path:
        """The final model."""
        return self.root / "final"

    @property
    def pool_file(self) -> Path:
        """GRPO's learnable pool (``pool.enabled``): the probe's pass rates and the questions kept."""
        return self.root / _POOL_NAME

    @property
    def plots_dir(self) -> Path:
        """PNG plots of the metrics."""
        return self.root / "plots"

    def eval_dir(self, name: str) -> Path:
        """Where the eval job of checkpoint ``name`` writes its report."""
        return self.root / "eval" / name

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints (trainer_state.json written last by HF), oldest first."""
        found = []
        for path in self.root.glob("checkpoint-*"):
            step = checkpoint_step(path)
            if step is not None and path.is_dir() and (path / "trainer_state.json").is_file():
                found.append((step, path))
        return [path for _, path in sorted(found)]

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        checkpoints = self.checkpoints()
        return checkpoints[-1] if checkpoints else None

    def lock(self) -> FileLock | HeldByRankZero:
        """Hold the folder for this run; refuse when another live process trains in it.

        An OS file lock (flock) is released when its process dies, so a crashed or killed worker never
        leaves a stale lock, while an orphaned RQ work horse that still trains keeps the folder busy.
        Under a launcher, rank 0 holds it for every rank (the others get a stand-in, or rank 0's error).
        """
        init_distributed()
        held = run_on_main(self._lock_here)
        return held if held is not None else HeldByRankZero()

    def _lock_here(self) -> FileLock:
        self._refuse_foreign()
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / _LOCK_NAME))
        try:
            lock.acquire(timeout=0)
        except Timeout as exc:
            raise ConfigError(
                f"output_dir {self.root} is in use by another training process", param="output_dir"
            ) from exc
        return lock

    def prepare(self, snapshot: dict[str, Any], *, resume: str) -> Path | None:
        """Create or reopen the folder; return the checkpoint to resume from (None: a fresh start).

        A folder that holds another run (a different config, or another number of ranks) is never
        reused, and ``resume: never`` refuses any folder that already holds a run. Rank 0 decides; every
        rank gets the same answer.
        """
        world = current_ranks().world_size
        if world > 1:  # single-process snapshots stay as they were, so older runs still resume
            snapshot = {**snapshot, _WORLD_SIZE: world}
        chosen = run_on_main(lambda: self._prepare_here(snapshot, resume=resume))
        found = broadcast_from_main(str(chosen) if chosen is not None else None)
        return Path(found) if found is not None else None

    def _prepare_here(self, snapshot: dict[str, Any], *, resume: str) -> Path | None:
        if self.config_file.is_file():
            if resume == "never":
                raise ConfigError(
                    f"output_dir {self.root} already holds a run and resume is 'never': "
                    "choose a new output_dir or set resume: auto",
                    param="output_dir",
                )
            previous = json.loads(self.config_file.read_text())
            changed = sorted(
                key for key in set(previous) | set(snapshot)
                if key not in _RESUMABLE_CHANGES and previous.get(key) != snapshot.get(key)
            )  # fmt: skip
            if changed:
                raise ConfigError(
                    f"output_dir {self.root} holds a run with a different config ({', '.join(changed)} "
                    "changed): choose a new output_dir to start another run",
                    param="output_dir",
                )
            latest = self.latest_checkpoint()
            log.info(
                "reopening run %s (%s)",
                self.root,
                f"resume from {latest.name}" if latest else "no checkpoint",
            )
            return latest
        self._refuse_foreign()
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(snapshot, indent=2, sort_keys=True, default=str))
        return None

    def _refuse_foreign(self) -> None:
        if self.config_file.is_file() or not self.root.exists():
            return
        if any(p.name not in (_LOCK_NAME, _POOL_NAME) for p in self.root.iterdir()):
            raise ConfigError(
                f"output_dir {self.root} is not empty and holds no run of ours: choose a new output_dir",
                param="output_dir",
            )

    def trim_metrics(self, last_step: int) -> None:
        """Drop metric lines after ``last_step`` (steps a killed run did past its last checkpoint).

        Rank 0 writes; the others wait for it.
        """
        if current_ranks().is_main:
            self._trim_here(last_step)
        barrier()

    def _trim_here(self, last_step: int) -> None:
        if not self.metrics_file.is_file():
            return
        kept = []
        for line in self.metrics_file.read_text().splitlines():
            if line.strip() and json.loads(line).get("step", 0) <= last_step:
                kept.append(line)
        self.metrics_file.write_text("".join(f"{line}\n" for line in kept))

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every metrics line, in order."""
        if not self.metrics_file.is_file():
            return []
        return read_jsonl(self.metrics_file)
