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
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import WithJsonSchema

from zerosearch.common.defaults import MAX_QUERY_CHARS
from zerosearch.common.documents import Document
from zerosearch.simulator.prompts import Mode
from zerosearch.simulator.schemas import (
    ERROR_RESPONSES,
    MAX_SEED,
    SearchParams,
    SearchResponse,
)
from zerosearch.simulator.service import SimulatorService

__all__ = [
    "COMPAT_ERRORS",
    "LINK_HOST",
    "MAX_CLIENT_BATCH",
    "SimulationExtras",
    "SimulationHeaders",
    "merge_extras",
    "result_link",
    "served_as",
    "simulate",
    "simulate_many",
]

MAX_CLIENT_BATCH = 100
"""Most queries one compatibility call may carry (Serper's own batch limit); split into engine batches."""

# Optional values whose OpenAPI offers no ``null`` (a query parameter or header cannot carry one); plain
# Optional types keep validation errors located at the field itself (``noise``, not ``noise.float``).
Noise = Annotated[
    float | None, Field(ge=0.0, le=1.0), WithJsonSchema({"type": "number", "minimum": 0.0, "maximum": 1.0})
]
Seed = Annotated[
    int | None,
    Field(ge=0, le=MAX_SEED),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": MAX_SEED}),
]
Text = Annotated[
    str | None,
    Field(max_length=MAX_QUERY_CHARS),
    WithJsonSchema({"type": "string", "maxLength": MAX_QUERY_CHARS}),
]
OptionalMode = Annotated[Mode | None, WithJsonSchema({"type": "string", "enum": [m.value for m in Mode]})]

LINK_HOST = "simulated.zerosearch.invalid"
"""Host of the links given to simulated documents (``.invalid`` is reserved: it never resolves)."""

COMPAT_ERRORS = ERROR_RESPONSES
"""The error answers every compatibility route can give: those of every search route."""


class SimulationExtras(BaseModel):
    """The simulation's parameters, carried beside an outside API's own (all optional).

    Absent means unset; the OpenAPI offers no ``null`` (a query parameter or header cannot carry one).
    """

    noise: Noise = Field(default=None, description="Probability in [0, 1] that the call is served noisy.")
    question: Text = Field(default=None, description="The dataset question (conditions useful).")
    answer: Text = Field(default=None, description="Its (first) gold answer.")
    seed: Seed = Field(default=None, description="Makes draw and sampling reproducible.")
    mode: OptionalMode = Field(default=None, description="Force useful or noisy; skips the draw.")


class SimulationHeaders(BaseModel):
    """The same extras as ``X-ZeroSearch-*`` headers (for clients that cannot add parameters)."""

    model_config = ConfigDict(extra="ignore")

    x_zerosearch_noise: Noise = Field(default=None, description="Noise in [0, 1].")
    x_zerosearch_question: Text = Field(default=None, description="Question.")
    x_zerosearch_answer: Text = Field(default=None, description="Gold answer.")
    x_zerosearch_seed: Seed = Field(default=None, description="Seed.")
    x_zerosearch_mode: OptionalMode = Field(default=None, description="useful or noisy.")


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
    # Outside clients batch freely: split into the service's batch limit instead of refusing.
    size = service.settings.max_request_batch
    out: list[SearchResponse] = []
    for start in range(0, len(items), size):
        out.extend(await service.search_many(items[start : start + size]))
    return out


def served_as(response: SearchResponse) -> dict[str, str | bool | None]:
    """How a call was served (mode, cached, model, warning): the ``zerosearch`` block of the answers."""
    mode = response.mode.value if isinstance(response.mode, Mode) else str(response.mode)
    return {"mode": mode, "cached": response.cached, "model": response.model, "warning": response.warning}


def result_link(query: str, document: Document) -> str:
    """A stable, never-resolving URL for a simulated document (the same query and rank give the same URL)."""
    stem = hashlib.sha1(query.encode()).hexdigest()[:12]
    return f"https://{LINK_HOST}/{stem}/{document.rank}"
