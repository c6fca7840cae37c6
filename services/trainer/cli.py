"""``zerosearch train ...``, ``zerosearch trainer ...`` and ``zerosearch sft ...`` verbs."""

from __future__ import annotations

import typer

__all__ = ["sft_app", "train_app", "trainer_app"]

train_app = typer.Typer(help="Train a search agent with GRPO against the simulator.", no_args_is_help=True)
trainer_app = typer.Typer(help="The trainer service (RQ worker on the train queue).", no_args_is_help=True)
sft_app = typer.Typer(help="Simulation tuning: collect, label, fine-tune the simulator.", no_args_is_help=True)
