"""Request and response schemas of the simulator API; the constraints live here.

The search protocol itself (``SearchParams``, ``SearchResponse``, the batch pair, ``Usefulness``) is
written once in ``zerosearch.common.search.protocol`` and re-exported here: the client speaks the same
models. This module adds what only the server has: ``/retrieve`` and the error envelope.

``/retrieve`` mirrors the Search-R1 retrieval server (``search_r1/search/retrieval_server.py`` in
PeterGriffinJin/Search-R1): field names and order are theirs, so verl/Search-R1 users can point their
retrieval URL at the simulator unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, Field, ValidationInfo, field_validator

from zerosearch.common.defaults import MAX_TOP_K
from zerosearch.common.search.protocol import (
    MAX_SEED,
    BatchSearchRequest,
    BatchSearchResponse,
    NonBlankText,
    QueryText,
    SearchParams,
    SearchResponse,
    not_blank,
)

__all__ = [
    "ERROR_RESPONSES",
    "MAX_SEED",
    "BatchSearchRequest",
    "BatchSearchResponse",
    "ErrorBody",
    "ErrorResponse",
    "NonBlankText",
    "QueryText",
    "RetrieveDocument",
    "RetrieveHit",
    "RetrieveRequest",
    "RetrieveResponse",
    "SearchParams",
    "SearchResponse",
]


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

    @field_validator("seed")
    @classmethod
    def _seeds_fit(cls, value: int | None, info: ValidationInfo) -> int | None:
        # Query i is seeded seed + i: the last one must still be a valid seed.
        count = len(info.data.get("queries") or [])
        if value is not None and count and value + count - 1 > MAX_SEED:
            raise ValueError(
                f"seed + {count - 1} (one seed a query) must be at most 2^63-1: use seed <= {MAX_SEED - count + 1}"
            )
        return value

    @field_validator("queries")
    @classmethod
    def _queries_not_blank(cls, value: list[str]) -> list[str]:
        return [not_blank(q, "each query") for q in value]


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


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong API key."},
    422: {
        "model": ErrorResponse,
        "description": "Bad input; the message names the field and allowed values.",
    },
    500: {"model": ErrorResponse, "description": "The engine failed; the next request is served."},
    503: {"model": ErrorResponse, "description": "Engine queue full; retry after `Retry-After` seconds."},
}
"""The error answers every search route can give, in our envelope (declared in the OpenAPI)."""
