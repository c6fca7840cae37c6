"""The MCP endpoint driven by the official SDK's client over real streamable HTTP, and /tools/openai."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.simulator.fake_engine import ScriptedEngine, serve_scripted

KEY = "mcp-key"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, ScriptedEngine]]:
    with serve_scripted(api_key=KEY, fail_on="explode") as pair:
        yield pair


async def _with_client(url: str, work: Any) -> Any:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    async with http, Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
        return await work(client)


def test_search_tool_is_listed_with_input_and_output_schemas(served: tuple[str, ScriptedEngine]) -> None:
    tools = asyncio.run(_with_client(served[0], lambda c: c.list_tools())).tools
    [tool] = [t for t in tools if t.name == "search"]
    assert tool.input_schema["required"] == ["query"]
    assert tool.input_schema["properties"]["k"]["maximum"] == 20
    assert {"query", "mode", "documents", "formatted"} <= set(tool.output_schema["properties"])


def test_search_tool_call_returns_structured_documents(served: tuple[str, ScriptedEngine]) -> None:
    url, engine = served
    arguments = {"query": "who wrote moby dick", "k": 2, "mode": "useful", "question": "Who wrote Moby-Dick?",
                 "answer": "Herman Melville"}  # fmt: skip
    result = asyncio.run(_with_client(url, lambda c: c.call_tool("search", arguments)))
    assert result.is_error is False
    out = result.structured_content
    assert out["mode"] == "useful" and [d["rank"] for d in out["documents"]] == [1, 2]
    assert out["formatted"].startswith("Doc 1: (Title: Scripted page 1)")
    assert "Herman Melville" in engine.requests[-1].prompt.messages[-1]["content"]


@pytest.mark.parametrize(
    ("arguments", "needle"),
    [({"query": "x", "k": 99}, "k"), ({"query": "please explode"}, "scripted failure"), ({"k": 1}, "query")],
)
def test_failures_come_back_as_tool_errors(
    served: tuple[str, ScriptedEngine], arguments: dict, needle: str
) -> None:
    result = asyncio.run(_with_client(served[0], lambda c: c.call_tool("search", arguments)))
    assert result.is_error is True
    assert needle in result.content[0].text


def test_mcp_endpoint_takes_the_api_key(served: tuple[str, ScriptedEngine]) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = httpx.post(
        f"{served[0]}/mcp", json=body, headers={"Accept": "application/json, text/event-stream"}
    )
    assert response.status_code == 401 and response.json()["error"]["param"] == "api_key"


def test_openai_tool_schema_matches_the_mcp_tool(served: tuple[str, ScriptedEngine]) -> None:
    url, _ = served
    published = httpx.get(f"{url}/tools/openai", headers={"X-API-Key": KEY})
    assert published.status_code == 200, published.text
    [tool] = published.json()
    listed = asyncio.run(_with_client(url, lambda c: c.list_tools())).tools
    assert tool["type"] == "function" and tool["function"]["name"] == "search"
    assert tool["function"]["parameters"] == listed[0].input_schema
    assert "search" in tool["function"]["description"].lower()
