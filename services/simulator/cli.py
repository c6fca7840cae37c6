"""``zerosearch simulator ...`` verbs."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(help="The search simulator: an LLM that plays a search engine.", no_args_is_help=True)
