"""The simulator protocol, written once: what a search call asks and what it gets back.

The simulator service validates its requests and serialises its answers with these models, the search
client (``zerosearch.common.search.simulator``) builds its bodies and parses the answers with them, and the
tests use them too, so the two sides cannot drift. ``Usefulness`` is the one useful/noisy enum of the code
base (a call's mode in the simulator, a document's label in simulation tuning).

    body = BatchSearchRequest(requests=[SearchParams(q="who wrote moby dick", noise=0.3, seed=7)])
    httpx.post(f"{url}/search", json=body.model_dump(mode="json", exclude_defaults=True))
    answer = BatchSearchResponse.model_validate(response.json())
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from zerosearch.common.defaults import DEFAULT_TOP_K, MAX_QUERY_CHARS, MAX_TOP_K
from zerosearch.common.documents import Document

__all__ = [
    "MAX_SEED",
    "BatchSearchRequest",
    "BatchSearchResponse",
    "NonBlankText",
    "QueryText",
    "SearchParams",
    "SearchResponse",
    "Usefulness",
    "not_blank",
]

MAX_SEED = 2**63 - 1
"""Largest seed accepted (fits a signed 64-bit integer, which every client language has)."""

QueryText = Annotated[str, StringConstraints(max_length=MAX_QUERY_CHARS)]
# The pattern puts "not blank" into the OpenAPI schema too, so clients (and schemathesis) can see it.
NonBlankText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"\S")]


class Usefulness(StrEnum):
    """Useful or noisy: a search call's mode (paper §3.2: one draw per call) or a document's label."""

    USEFUL = "useful"
    NOISY = "noisy"


def not_blank(value: str, name: str) -> str:
    """``value`` stripped; a ValueError naming ``name`` when it is empty or whitespace."""
    if not value.strip():
        raise ValueError(f"{name} must not be empty or whitespace")
    return value.strip()


class SearchParams(BaseModel):
    """One search call: the query, the noise probability and what conditions the simulation."""

    model_config = ConfigDict(extra="forbid")

    q: NonBlankText = Field(description=f"The search query, 1 to {MAX_QUERY_CHARS} characters, not blank.")
    noise: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Probability in [0, 1] that this call is served noisy."
    )
    k: int = Field(default=DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description=f"Documents, 1 to {MAX_TOP_K}.")
    question: QueryText | None = Field(default=None, description="The dataset question (conditions useful).")
    answer: QueryText | None = Field(default=None, description="Its (first) gold answer.")
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="Makes the noise draw and the sampling reproducible."
    )
    mode: Usefulness | None = Field(default=None, description="Force useful or noisy; skips the noise draw.")
    cache: bool = Field(
        default=False,
        description="Serve and store this call through the cache even without a seed (identical calls "
        "then share documents). Unseeded calls are otherwise sampled fresh every time; seeded ones are "
        "always cached.",
    )

    @field_validator("q")
    @classmethod
    def _q_not_blank(cls, value: str) -> str:
        return not_blank(value, "q")

    @field_validator("question", "answer")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class SearchResponse(BaseModel):
    """What one search call returns; ``formatted`` is inserted verbatim inside ``<information>``."""

    query: str
    mode: Usefulness
    noise: float
    k: int = Field(description="Documents asked for.")
    documents: list[Document]
    formatted: str = Field(description="The `Doc 1: ...` block the agent loop inserts.")
    cached: bool = Field(description="True when served from the cache.")
    model: str
    latency_ms: float
    warning: str | None = Field(
        default=None, description="Set when fewer than k documents could be parsed (never padded)."
    )


class BatchSearchRequest(BaseModel):
    """Several search calls generated together (one engine batch), e.g. a rollout batch."""

    model_config = ConfigDict(extra="forbid")

    requests: list[SearchParams] = Field(min_length=1, description="The calls, at least one.")


class BatchSearchResponse(BaseModel):
    """Results in request order."""

    results: list[SearchResponse]
    count: int
