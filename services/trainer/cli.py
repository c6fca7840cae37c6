"""``zerosearch train ...`` and ``zerosearch trainer ...`` verbs."""

from __future__ import annotations

import typer

__all__ = ["train_app", "trainer_app"]

train_app = typer.Typer(help="Train a search agent with GRPO against the simulator.", no_args_is_help=True)
trainer_app = typer.Typer(
    help="The trainer service (RQ worker on the train and sft queues).", no_args_is_help=True
)
