"""Other clients' shapes of a search API, served by the simulator so those clients need only a new base URL.

    register_compat(app, guard)   # in the app factory: routers, the MCP endpoint, /tools/openai

| client | path | module |
|---|---|---|
| ReCall / FlashRAG retriever | ``POST /recall/search`` | ``recall`` |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from zerosearch.simulator.compat import recall

__all__ = ["register_compat"]


def register_compat(app: FastAPI, dependencies: Sequence[Any] = ()) -> None:
    """Add every compatibility router to ``app``, behind ``dependencies`` (the API-key guard when set)."""
    for module in (recall,):
        app.include_router(module.router, dependencies=list(dependencies))
