"""Brave Search's shape on ``GET /brave/res/v1/web/search``: ``web.results`` with title, url, description.

Brave clients call ``{base}/res/v1/web/search?q=...&count=...`` with ``X-Subscription-Token: <key>``: use
``http://<simulator>/brave`` as the base and ``ZEROSEARCH_API_KEY`` as the token. Spec of the real API:
https://api-dashboard.search.brave.com/app/documentation/web-search/query. The simulation extras travel
as query parameters or ``X-ZeroSearch-*`` headers (the Python client refuses unknown parameters, so use
headers there). Other Brave parameters (``country``, ``safesearch``, ``offset``, ...) are accepted and
ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

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

__all__ = ["BraveParams", "BraveResponse", "router"]

router = APIRouter(tags=["compat: web-search APIs"], responses=COMPAT_ERRORS)


class BraveParams(SimulationExtras):
    """Brave's query parameters that change the answer, plus the simulation extras."""

    q: NonBlankText = Field(description="The search query.")
    count: int = Field(default=DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description=f"Results, 1 to {MAX_TOP_K}.")


class BraveMetaUrl(BaseModel):
    """Brave's parsed URL of a result."""

    scheme: str
    netloc: str
    hostname: str
    favicon: str = ""
    path: str


class BraveResult(BaseModel):
    """One web result, in Brave's field names."""

    type: Literal["search_result"] = "search_result"
    subtype: str = "generic"
    title: str
    url: str
    description: str
    meta_url: BraveMetaUrl
    family_friendly: bool = True


class BraveWeb(BaseModel):
    """Brave's ``web`` section."""

    type: Literal["search"] = "search"
    results: list[BraveResult]
    family_friendly: bool = True


class BraveQuery(BaseModel):
    """Brave's ``query`` section."""

    original: str


class BraveResponse(BaseModel):
    """Brave's web-search answer; ``zerosearch`` says how it was served (mode, cached, model, warning)."""

    type: Literal["search"] = "search"
    query: BraveQuery
    web: BraveWeb
    zerosearch: dict[str, str | bool | None]


def _result(title: str, url: str, text: str) -> BraveResult:
    parts = urlsplit(url)
    meta = BraveMetaUrl(
        scheme=parts.scheme, netloc=parts.netloc, hostname=parts.hostname or "", path=parts.path
    )
    return BraveResult(title=title, url=url, description=text, meta_url=meta)


@router.get("/brave/res/v1/web/search", response_model=BraveResponse, summary="Brave-shaped web search")
async def brave_web_search(
    params: Annotated[BraveParams, Query()],
    headers: Annotated[SimulationHeaders, Header()],
    service: ServiceDep,
) -> BraveResponse:
    """``count`` simulated web results for ``q``."""
    response = await simulate(service, params.q, params.count, merge_extras(params, headers))
    results = [_result(d.title, result_link(response.query, d), d.text) for d in response.documents]
    return BraveResponse(
        query=BraveQuery(original=params.q),
        web=BraveWeb(results=results),
        zerosearch=served_as(response),
    )  # fmt: skip
