"""What every compatibility shape shares: the simulation extras, one search call, synthetic links.

Outside clients (SerpAPI, Serper, Tavily, Brave, retrieval servers) know nothing of noise, so the
simulation's own parameters travel beside theirs: as extra query parameters or body fields named
``noise``, ``question``, ``answer``, ``seed``, ``mode``, or as ``X-ZeroSearch-*`` headers (useful when a
client library forbids unknown parameters). A parameter wins over the header of the same name.

    extras = merge_extras(params, headers)
    response = await simulate(service, "who wrote moby dick", k=3, extras=extras)
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zerosearch.common.defaults import MAX_QUERY_CHARS
from zerosearch.common.documents import Document
from zerosearch.simulator.prompts import Mode
from zerosearch.simulator.schemas import MAX_SEED, ErrorResponse, QueryText, SearchParams, SearchResponse
from zerosearch.simulator.service import SimulatorService

__all__ = [
    "COMPAT_ERRORS",
    "LINK_HOST",
    "SimulationExtras",
    "SimulationHeaders",
    "merge_extras",
    "result_link",
    "served_as",
    "simulate",
    "simulate_many",
]

LINK_HOST = "simulated.zerosearch.invalid"
"""Host of the links given to simulated documents (``.invalid`` is reserved: it never resolves)."""

COMPAT_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong API key."},
    422: {
        "model": ErrorResponse,
        "description": "Bad input; the message names the field and allowed values.",
    },
    500: {"model": ErrorResponse, "description": "The engine failed; the next request is served."},
    503: {"model": ErrorResponse, "description": "Engine queue full; retry after `Retry-After` seconds."},
}
"""The error answers every compatibility route can give, in our envelope (documented in the OpenAPI)."""


class SimulationExtras(BaseModel):
    """The simulation's parameters, carried beside an outside API's own (all optional)."""

    noise: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Probability in [0, 1] that the call is served noisy."
    )
    question: QueryText | None = Field(default=None, description="The dataset question (conditions useful).")
    answer: QueryText | None = Field(default=None, description="Its (first) gold answer.")
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="Makes draw and sampling reproducible."
    )
    mode: Mode | None = Field(default=None, description="Force useful or noisy; skips the noise draw.")


class SimulationHeaders(BaseModel):
    """The same extras as ``X-ZeroSearch-*`` headers (for clients that cannot add parameters)."""

    model_config = ConfigDict(extra="ignore")

    x_zerosearch_noise: float | None = Field(default=None, ge=0.0, le=1.0, description="Noise in [0, 1].")
    x_zerosearch_question: str | None = Field(
        default=None, max_length=MAX_QUERY_CHARS, description="Question."
    )
    x_zerosearch_answer: str | None = Field(
        default=None, max_length=MAX_QUERY_CHARS, description="Gold answer."
    )
    x_zerosearch_seed: int | None = Field(default=None, ge=0, le=MAX_SEED, description="Seed.")
    x_zerosearch_mode: Mode | None = Field(default=None, description="useful or noisy.")


def merge_extras(params: SimulationExtras, headers: SimulationHeaders | None = None) -> SimulationExtras:
    """The extras of a call: each parameter, else its header, else unset."""
    merged = params.model_dump()
    if headers is not None:
        for name in merged:
            if merged[name] is None:
                merged[name] = getattr(headers, f"x_zerosearch_{name}")
    return SimulationExtras.model_validate(merged)


async def simulate(service: SimulatorService, query: str, k: int, extras: SimulationExtras) -> SearchResponse:
    """One simulated search call through the service (cache, noise draw, engine batch)."""
    [response] = await simulate_many(service, [(query, k, extras)])
    return response


async def simulate_many(
    service: SimulatorService, calls: list[tuple[str, int, SimulationExtras]]
) -> list[SearchResponse]:
    """Several calls ``(query, k, extras)`` generated as one engine batch, answers in call order."""
    items = [SearchParams(q=q, k=k, **extras.model_dump(exclude_none=True)) for q, k, extras in calls]
    return await service.search_many(items)


def served_as(response: SearchResponse) -> dict[str, str | bool | None]:
    """How a call was served (mode, cached, model, warning): the ``zerosearch`` block of the answers."""
    mode = response.mode.value if isinstance(response.mode, Mode) else str(response.mode)
    return {"mode": mode, "cached": response.cached, "model": response.model, "warning": response.warning}


def result_link(query: str, document: Document) -> str:
    """A stable, never-resolving URL for a simulated document (the same query and rank give the same URL)."""
    stem = hashlib.sha1(query.encode()).hexdigest()[:12]
    return f"https://{LINK_HOST}/{stem}/{document.rank}"
