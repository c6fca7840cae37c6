"""``zerosearch sft ...`` verbs: simulation tuning (collect, label, build, train, fidelity)."""

from __future__ import annotations

import typer

__all__ = ["sft_app"]

sft_app = typer.Typer(
    help="Simulation tuning: collect, label, fine-tune the simulator, measure fidelity.", no_args_is_help=True
)
