"""Request and response schemas of the simulator API; the constraints live here.

``/retrieve`` mirrors the Search-R1 retrieval server (``search_r1/search/retrieval_server.py`` in
PeterGriffinJin/Search-R1): field names and order are theirs, so verl/Search-R1 users can point their
retrieval URL at the simulator unchanged.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from zerosearch.common.defaults import DEFAULT_TOP_K, MAX_QUERY_CHARS, MAX_TOP_K
from zerosearch.common.documents import Document
from zerosearch.simulator.prompts import Mode

__all__ = [
    "BatchSearchRequest",
    "BatchSearchResponse",
    "ErrorBody",
    "ErrorResponse",
    "RetrieveDocument",
    "RetrieveHit",
    "RetrieveRequest",
    "RetrieveResponse",
    "SearchParams",
    "SearchResponse",
]

MAX_SEED = 2**63 - 1
"""Largest seed accepted (fits a signed 64-bit integer, which every client language has)."""

QueryText = Annotated[str, StringConstraints(max_length=MAX_QUERY_CHARS)]
# The pattern puts "not blank" into the OpenAPI schema too, so clients (and schemathesis) can see it.
NonBlankText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"\S")]


def _not_blank(value: str, name: str) -> str:
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
    mode: Mode | None = Field(default=None, description="Force useful or noisy; skips the noise draw.")
    cache: bool = Field(
        default=False,
        description="Serve and store this call through the cache even without a seed (identical calls "
        "then share documents). Unseeded calls are otherwise sampled fresh every time; seeded ones are "
        "always cached.",
    )

    @field_validator("q")
    @classmethod
    def _q_not_blank(cls, value: str) -> str:
        return _not_blank(value, "q")

    @field_validator("question", "answer")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class SearchResponse(BaseModel):
    """What one search call returns; ``formatted`` is inserted verbatim inside ``<information>``."""

    query: str
    mode: Mode
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


class RetrieveRequest(BaseModel):
    """Search-R1's ``/retrieve`` body, plus optional ``noise`` and ``seed`` (ignored by Search-R1 clients).

    Other retrieval clients' spellings are accepted too: ``query`` (one string, as SkyRL sends, or a
    list) for ``queries``, ``top_k`` / ``top_n`` for ``topk``, ``return_score`` for ``return_scores``.
    """

    queries: list[NonBlankText] = Field(
        min_length=1,
        validation_alias=AliasChoices("queries", "query"),
        description="Queries, each 1 to 1000 characters (alias `query`: one string or a list).",
    )
    topk: int | None = Field(
        default=None, ge=1, le=MAX_TOP_K, validation_alias=AliasChoices("topk", "top_k", "top_n"),
        description=f"Documents per query, 1 to {MAX_TOP_K} (default 5; aliases `top_k`, `top_n`).",
    )  # fmt: skip
    return_scores: bool = Field(
        default=False,
        validation_alias=AliasChoices("return_scores", "return_score"),
        description="Wrap each document with a score (alias `return_score`).",
    )
    noise: float = Field(default=0.0, ge=0.0, le=1.0, description="Noise probability in [0, 1].")
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED, description="Seed of the first query.")

    @field_validator("queries", mode="before")
    @classmethod
    def _one_query_is_a_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("queries")
    @classmethod
    def _queries_not_blank(cls, value: list[str]) -> list[str]:
        return [_not_blank(q, "each query") for q in value]


class RetrieveDocument(BaseModel):
    """A Search-R1 corpus entry: ``contents`` is ``"<title>"\\n<text>``."""

    id: str
    contents: str


class RetrieveHit(BaseModel):
    """A document with its score (``return_scores=true``); the score is 1/rank."""

    document: RetrieveDocument
    score: float


class RetrieveResponse(BaseModel):
    """One list per query, in query order."""

    result: list[list[RetrieveHit]] | list[list[RetrieveDocument]]


class ErrorBody(BaseModel):
    """The error envelope's content."""

    message: str
    type: str
    param: str | None = None
    code: int


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer: ``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorBody
