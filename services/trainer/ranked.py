"""Trainer pieces that every rank runs but only rank 0 writes: saved models, and the ranks' record.

trainer.add_callback(RanksCallback(run_dir, rollout))    # merges rollout stats; writes ranks.json
publish_model(trainer, tokenizer, run_dir.final_dir)      # "final" appears complete or not at all
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from zerosearch.trainer.distributed import (
    RankTracker,
    barrier,
    current_ranks,
    gather_checksums,
)
from zerosearch.trainer.run_dir import RunDir

__all__ = ["RANKS_FILE", "RanksCallback", "publish_model"]

log = logging.getLogger(__name__)

RANKS_FILE = "ranks.json"
"""Per-rank record of a multi-process run, in the run folder."""


def publish_model(trainer: Any, tokenizer: Any, target: Path) -> None:
    """Save the trainer's model and ``tokenizer`` to ``target`` through a staging folder.

    Every rank calls it (DeepSpeed ZeRO-3 and FSDP gather the weights collectively); rank 0 writes,
    then renames, so ``target`` appears complete or not at all; the others wait for it.
    """
    staging = target.with_name(target.name + ".partial")
    main = current_ranks().is_main
    if main:
        shutil.rmtree(staging, ignore_errors=True)  # a save cut short by a kill
    barrier()
    trainer.save_model(str(staging))  # HF writes on the main process only
    if main:
        _merge_adapters(trainer, staging)
        tokenizer.save_pretrained(str(staging))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    barrier()


def _merge_adapters(trainer: Any, staging: Path) -> None:
    # LoRA: HF saved the adapters only; the published model is the base with the adapters folded in, a
    # plain HF folder the evaluator and a resumed run load like any other (the adapters stay in the
    # checkpoints). In place: called once training is over.
    model = trainer.accelerator.unwrap_model(trainer.model)
    if not hasattr(model, "merge_and_unload"):
        return
    log.info("merging the LoRA adapters into the published model %s", staging.name)
    model.merge_and_unload().save_pretrained(str(staging))
    for leftover in ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin"):
        (staging / leftover).unlink(missing_ok=True)


class RanksCallback(TrainerCallback):
    """Merges the ranks' rollout stats each step; at the end checks the ranks hold the same weights.

    The record (``ranks.json``: per-rank rollouts, searches, tokens and weights checksum) is what shows
    that every rank generated and searched, and that data-parallel steps kept the ranks identical.
    """

    def __init__(self, run_dir: RunDir, rollout: Any) -> None:
        self.run_dir = run_dir
        self.ranks = current_ranks()
        self.tracker = RankTracker(world_size=self.ranks.world_size)
        self.tracker.attach(rollout)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        """Gather the weights' checksums (a collective) and write the record on rank 0."""
        if not self.ranks.distributed or model is None:
            return
        checksums = gather_checksums(model)
        if not self.ranks.is_main:
            return
        record = self.tracker.report(checksums)
        (self.run_dir.root / RANKS_FILE).write_text(json.dumps(record, indent=2))
        known = {c for c in checksums if c is not None}
        if len(known) > 1:
            log.error("ranks hold different weights after training: %s", checksums)
        else:
            log.info("%d ranks hold the same weights (%s)", len(checksums), next(iter(known), "sharded"))
