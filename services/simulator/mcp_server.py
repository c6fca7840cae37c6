"""The simulator as an MCP server: one ``search`` tool over streamable HTTP at ``/mcp``.

    register_mcp(app)     # called by register_compat; the tool serves through app.state.service

Built on the official ``mcp`` SDK (``MCPServer``), stateless with JSON answers, so any number of
simulator replicas can serve it behind one load balancer. The tool has input and output schemas (the
output is the simulator's search response: mode, documents, the ``Doc i:`` block); failures such as a full
engine queue or a bad argument come back as tool errors (``isError: true`` with our message), never as
protocol errors. When ``ZEROSEARCH_API_KEY`` is set, ``/mcp`` takes the same keys as every other endpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.security import HTTPAuthorizationCredentials
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from zerosearch.common.defaults import DEFAULT_TOP_K, MAX_QUERY_CHARS, MAX_TOP_K
from zerosearch.common.documents import Document
from zerosearch.common.errors import ZeroSearchError
from zerosearch.simulator.compat.common import SimulationExtras, simulate
from zerosearch.simulator.deps import require_api_key
from zerosearch.simulator.errors import AuthenticationError, error_response
from zerosearch.simulator.prompts import Mode
from zerosearch.simulator.schemas import MAX_SEED

__all__ = ["MCP_PATH", "TOOL_DESCRIPTION", "SearchToolResult", "build_mcp_server", "register_mcp"]

MCP_PATH = "/mcp"
"""Where the streamable-HTTP MCP endpoint is served."""

TOOL_DESCRIPTION = (
    "Search the web (simulated by an LLM): returns k short documents for the query. Use it to look up "
    "facts you do not know; ask focused queries and search again with a new query when documents do not "
    "help."
)
"""What a tool-calling model reads about the tool (MCP and the OpenAI function schema share it)."""


class SearchToolResult(BaseModel):
    """The ``search`` tool's structured output."""

    query: str = Field(description="The query searched.")
    mode: Mode = Field(description="useful or noisy: how the documents were written.")
    documents: list[Document] = Field(description="The documents, ranked 1..n (never padded to k).")
    formatted: str = Field(description="The documents as `Doc i: (Title: ...) text` lines.")
    cached: bool = Field(description="True when served from the cache.")
    model: str = Field(description="The simulator model.")
    warning: str | None = Field(default=None, description="Set when fewer than k documents came back.")


def build_mcp_server(app: FastAPI) -> MCPServer:
    """An MCP server whose ``search`` tool serves through ``app.state.service`` (built at app start)."""
    server = MCPServer(
        name="zerosearch-simulator",
        instructions="A search engine simulated by an LLM. Call `search` with a query.",
        version=app.version,
    )

    @server.tool(name="search", title="Web search (simulated)", description=TOOL_DESCRIPTION)
    async def search(
        query: Annotated[
            str,
            Field(min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"\S", description="The search query."),
        ],
        k: Annotated[
            int, Field(ge=1, le=MAX_TOP_K, description=f"Documents, 1 to {MAX_TOP_K}.")
        ] = DEFAULT_TOP_K,
        noise: Annotated[
            float | None, Field(ge=0.0, le=1.0, description="Probability of noisy documents.")
        ] = None,
        question: Annotated[
            str | None, Field(max_length=MAX_QUERY_CHARS, description="Dataset question.")
        ] = None,
        answer: Annotated[
            str | None, Field(max_length=MAX_QUERY_CHARS, description="Its gold answer.")
        ] = None,
        seed: Annotated[int | None, Field(ge=0, le=MAX_SEED, description="Reproducible draw.")] = None,
        mode: Annotated[Mode | None, Field(description="Force useful or noisy documents.")] = None,
    ) -> SearchToolResult:
        extras = SimulationExtras(noise=noise, question=question, answer=answer, seed=seed, mode=mode)
        try:
            response = await simulate(app.state.service, query.strip(), k, extras)
        except ZeroSearchError as exc:
            raise ToolError(exc.message) from exc
        return SearchToolResult.model_validate(
            response.model_dump(include=set(SearchToolResult.model_fields))
        )

    return server


class _KeyGuard:
    """ASGI wrapper: the app's API-key dependency in front of the MCP endpoint (a mounted ASGI app
    is outside FastAPI's dependency injection)."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        bearer = (
            HTTPAuthorizationCredentials(scheme=scheme, credentials=token)
            if scheme.lower() == "bearer"
            else None
        )
        try:
            require_api_key(request, bearer, request.headers.get("x-api-key"))
        except AuthenticationError as exc:
            await error_response(exc.status_code, exc.message, type(exc).__name__, exc.param)(
                scope, receive, send
            )
            return
        await self.inner(scope, receive, send)


def register_mcp(app: FastAPI) -> MCPServer:
    """Serve the MCP endpoint at ``/mcp`` on ``app`` and run its session manager with the app."""
    server = build_mcp_server(app)
    host = getattr(app.state.settings, "host", "0.0.0.0")
    # Stateless + JSON: no server-side sessions to pin to a replica. DNS-rebinding protection is on when
    # the simulator listens on loopback only (the SDK's rule), off when it serves a network.
    server.streamable_http_app(stateless_http=True, json_response=True, host=host)
    endpoint = _KeyGuard(StreamableHTTPASGIApp(server.session_manager))
    app.router.routes.append(Route(MCP_PATH, endpoint=endpoint, methods=["GET", "POST", "DELETE"]))

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(the_app: Any) -> AsyncIterator[Any]:
        async with server.session_manager.run(), inner(the_app) as state:
            yield state

    app.router.lifespan_context = lifespan
    return server
