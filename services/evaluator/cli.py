"""``zerosearch eval ...`` and ``zerosearch evaluator ...`` verbs."""

from __future__ import annotations

import typer

__all__ = ["eval_app", "evaluator_app"]

eval_app = typer.Typer(help="Evaluate a model as a search agent on QA benchmarks.", no_args_is_help=True)
evaluator_app = typer.Typer(help="The evaluator service (RQ worker on the eval queue).", no_args_is_help=True)
