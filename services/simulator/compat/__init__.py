"""Other clients' shapes of a search API, served by the simulator so those clients need only a new base URL.

    register_compat(app, guard)   # in the app factory: routers, the MCP endpoint, /tools/openai

| client | path | module |
|---|---|---|
| ReCall / FlashRAG retriever | ``POST /recall/search`` | ``recall`` |
| SerpAPI (``serpapi`` client) | ``GET /serpapi/search`` | ``serpapi`` |
| Serper | ``POST /serper/search`` | ``serper`` |
| Tavily (``tavily-python``) | ``POST /tavily/search`` | ``tavily`` |
| Brave Search | ``GET /brave/res/v1/web/search`` | ``brave`` |

| MCP clients (tool ``search``) | ``/mcp`` (streamable HTTP) | ``zerosearch.simulator.mcp_server`` |
| OpenAI function calling | ``GET /tools/openai`` | ``tools`` |

Search-R1 / SkyRL keep ``POST /retrieve`` (our own routes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from zerosearch.simulator.compat import brave, recall, serpapi, serper, tavily, tools

__all__ = ["register_compat"]


def register_compat(app: FastAPI, dependencies: Sequence[Any] = ()) -> None:
    """Add every compatibility router to ``app``, behind ``dependencies`` (the API-key guard when set)."""
    from zerosearch.simulator.mcp_server import register_mcp  # imports the compat helpers: import late

    for module in (recall, serpapi, serper, tavily, brave, tools):
        app.include_router(module.router, dependencies=list(dependencies))
    app.state.mcp_server = register_mcp(app)
