"""``GET /tools/openai``: the ``search`` tool as an OpenAI function-calling definition.

    tools = httpx.get(f"{simulator}/tools/openai").json()
    client.chat.completions.create(model=..., messages=..., tools=tools)

The definition is read from the MCP server's own tool listing, so the MCP tool and the OpenAI function
always share one input schema. Run a call by POSTing its arguments to the MCP endpoint, or map them onto
``GET /search`` (``query`` → ``q``; the other names are the same).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from zerosearch.simulator.compat.common import COMPAT_ERRORS

__all__ = ["OpenAIFunction", "OpenAITool", "router"]

router = APIRouter(tags=["tools"], responses={401: COMPAT_ERRORS[401]})


class OpenAIFunction(BaseModel):
    """An OpenAI function definition: name, description and the JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any] = Field(description="JSON Schema of the arguments.")
    strict: bool = False


class OpenAITool(BaseModel):
    """One entry of the OpenAI ``tools`` list."""

    type: Literal["function"] = "function"
    function: OpenAIFunction


@router.get(
    "/tools/openai", response_model=list[OpenAITool], summary="The search tool for OpenAI function calling"
)
async def openai_tools(request: Request) -> list[OpenAITool]:
    """The simulator's tools (``search``) in the OpenAI ``tools`` format, ready to pass as ``tools=``."""
    listed = await request.app.state.mcp_server.list_tools()
    return [
        OpenAITool(
            function=OpenAIFunction(name=t.name, description=t.description or "", parameters=t.input_schema)
        )
        for t in listed
    ]
