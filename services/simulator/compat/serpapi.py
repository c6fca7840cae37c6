"""SerpAPI's shape on ``GET /serpapi/search``: ``organic_results`` with position, title, link, snippet.

The official ``serpapi`` client calls ``{BASE_DOMAIN}/search?engine=...&q=...&api_key=...``; set its
``BASE_DOMAIN`` to ``http://<simulator>/serpapi`` and ``api_key`` to ``ZEROSEARCH_API_KEY`` (any value when
no key is set). ``/serpapi/search.json`` answers too (the path older clients and our own SerpAPI backend use). Spec of the real API: https://serpapi.com/search-api. Unknown SerpAPI parameters
(``location``, ``hl``, ``gl``, ...) are accepted and ignored; ``num`` is the number of documents.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Header, Query
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

__all__ = ["SerpApiParams", "SerpApiResponse", "router"]

router = APIRouter(tags=["compat: web-search APIs"], responses=COMPAT_ERRORS)


class SerpApiParams(SimulationExtras):
    """SerpAPI's query parameters that change the answer, plus the simulation extras."""

    q: NonBlankText = Field(description="The search query.")
    engine: str = Field(
        default="google", max_length=64, description="Echoed back; every engine is simulated."
    )
    num: int = Field(default=DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description=f"Results, 1 to {MAX_TOP_K}.")


class OrganicResult(BaseModel):
    """One organic result, in SerpAPI's field names."""

    position: int
    title: str
    link: str
    displayed_link: str
    snippet: str
    source: str = "ZeroSearch simulator"


class SearchMetadata(BaseModel):
    """SerpAPI's ``search_metadata``, with the simulation's mode, cache hit and model added."""

    id: str
    status: str = "Success"
    created_at: str
    total_time_taken: float
    mode: str
    cached: bool
    model: str
    warning: str | None = None


class SerpApiResponse(BaseModel):
    """The parts of SerpAPI's JSON answer that agents read."""

    search_metadata: SearchMetadata
    search_parameters: dict[str, str | int]
    search_information: dict[str, str | int]
    organic_results: list[OrganicResult]


@router.get("/serpapi/search", response_model=SerpApiResponse, summary="SerpAPI-shaped search")
@router.get(
    "/serpapi/search.json", response_model=SerpApiResponse, summary="SerpAPI-shaped search (.json path)"
)
async def serpapi_search(
    params: Annotated[SerpApiParams, Query()],
    headers: Annotated[SimulationHeaders, Header()],
    service: ServiceDep,
) -> SerpApiResponse:
    """``num`` simulated organic results for ``q``."""
    response = await simulate(service, params.q, params.num, merge_extras(params, headers))
    results = []
    for doc in response.documents:
        link = result_link(response.query, doc)
        results.append(
            OrganicResult(
                position=doc.rank,
                title=doc.title,
                link=link,
                displayed_link=link.removeprefix("https://"),
                snippet=doc.text,
            )
        )
    served = served_as(response)
    metadata = SearchMetadata(
        id=uuid4().hex,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        total_time_taken=round(response.latency_ms / 1000, 3),
        **served,
    )
    return SerpApiResponse(
        search_metadata=metadata,
        search_parameters={"engine": params.engine, "q": params.q, "num": params.num},
        search_information={"query_displayed": params.q, "total_results": len(results)},
        organic_results=results,
    )
