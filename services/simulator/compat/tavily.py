"""Tavily's shape on ``POST /tavily/search``: ``{"query", "max_results"}`` in, ``results`` out.

``tavily-python`` posts to ``{api_base_url}/search`` with ``Authorization: Bearer <api_key>``: build the
client with ``TavilyClient(api_key=ZEROSEARCH_API_KEY or "any", api_base_url="http://<simulator>/tavily")``
and pass the simulation extras as keyword arguments (``client.search(q, noise=0.3)``; the client forwards
unknown keywords in the body). Spec of the real API: https://docs.tavily.com/documentation/api-reference/endpoint/search.
Other Tavily options (``search_depth``, ``topic``, ``include_domains``, ...) are accepted and ignored;
``include_answer`` gets ``answer: null`` (the simulator writes documents, not answers).
"""

from __future__ import annotations

from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from zerosearch.common.defaults import DEFAULT_TOP_K, MAX_TOP_K
from zerosearch.simulator.compat.common import (
    COMPAT_ERRORS,
    SimulationExtras,
    SimulationHeaders,
    merge_extras,
    result_link,
    served_as,
    simulate,
)
from zerosearch.simulator.deps import ServiceDep
from zerosearch.simulator.schemas import NonBlankText

__all__ = ["TavilyRequest", "TavilyResponse", "router"]

router = APIRouter(tags=["compat: web-search APIs"], responses=COMPAT_ERRORS)


class TavilyRequest(SimulationExtras):
    """Tavily's search body (the fields that change the answer), plus the simulation extras."""

    query: NonBlankText = Field(description="The search query.")
    max_results: int = Field(
        default=DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description=f"Results, 1 to {MAX_TOP_K}."
    )


class TavilyResult(BaseModel):
    """One result, in Tavily's field names; ``score`` is 1/rank."""

    title: str
    url: str
    content: str
    score: float
    raw_content: str | None = None


class TavilyResponse(BaseModel):
    """Tavily's answer; ``zerosearch`` says how it was served (mode, cached, model, warning)."""

    query: str
    answer: str | None = None
    images: list[str] = Field(default_factory=list)
    results: list[TavilyResult]
    response_time: float
    request_id: str
    zerosearch: dict[str, str | bool | None]


@router.post("/tavily/search", response_model=TavilyResponse, summary="Tavily-shaped search")
async def tavily_search(
    body: TavilyRequest, headers: Annotated[SimulationHeaders, Header()], service: ServiceDep
) -> TavilyResponse:
    """``max_results`` simulated results for ``query``."""
    response = await simulate(service, body.query, body.max_results, merge_extras(body, headers))
    results = [
        TavilyResult(
            title=d.title, url=result_link(response.query, d), content=d.text, score=round(1.0 / d.rank, 4)
        )
        for d in response.documents
    ]
    return TavilyResponse(
        query=body.query, results=results, response_time=round(response.latency_ms / 1000, 3),
        request_id=uuid4().hex,
        zerosearch=served_as(response),
    )  # fmt: skip
