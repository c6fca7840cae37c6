"""ReCall's retrieval-server shape on ``POST /recall/search``.

ReCall (and the FlashRAG-style servers it reuses) post ``{"query": [...], "top_n": k, "return_score":
bool}`` to ``/search``. Our ``POST /search`` already takes a batch of our own calls, so this shape lives
on its own path: point the client's retriever URL at ``http://<simulator>/recall/search``. The answer is
one list of documents per query, ``{"id", "contents"}`` each, or ``{"document", "score"}`` pairs when
``return_score`` is true (score = 1/rank).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from zerosearch.common.defaults import DEFAULT_TOP_K, MAX_TOP_K
from zerosearch.simulator.compat.common import COMPAT_ERRORS, MAX_CLIENT_BATCH
from zerosearch.simulator.deps import ServiceDep
from zerosearch.simulator.schemas import (
    MAX_SEED,
    NonBlankText,
    RetrieveDocument,
    RetrieveHit,
    RetrieveRequest,
)

__all__ = ["RecallRequest", "router"]

router = APIRouter(tags=["compat: retrieval servers"], responses=COMPAT_ERRORS)


class RecallRequest(BaseModel):
    """ReCall's body: one query or a list, ``top_n`` documents each, scores on request; plus our extras."""

    query: NonBlankText | Annotated[list[NonBlankText], Field(min_length=1, max_length=MAX_CLIENT_BATCH)] = (
        Field(description=f"One query or a list of 1 to {MAX_CLIENT_BATCH} queries.")
    )
    top_n: int = Field(
        default=DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description=f"Documents a query, 1 to {MAX_TOP_K}."
    )
    return_score: bool = Field(default=False, description="Pair each document with its score (1/rank).")
    noise: float = Field(default=0.0, ge=0.0, le=1.0, description="Noise probability in [0, 1].")
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED, description="Seed of the first query.")


@router.post(
    "/recall/search",
    response_model=list[list[RetrieveHit]] | list[list[RetrieveDocument]],
    summary="ReCall retrieval-server shape",
)
async def recall_search(
    body: RecallRequest, service: ServiceDep
) -> list[list[RetrieveHit]] | list[list[RetrieveDocument]]:
    """One list of simulated documents per query, in query order."""
    queries = [body.query] if isinstance(body.query, str) else body.query
    size = service.settings.max_request_batch
    result: list[Any] = []
    for start in range(0, len(queries), size):  # split into the service's batch limit instead of refusing
        request = RetrieveRequest(
            queries=queries[start : start + size],
            topk=body.top_n,
            return_scores=body.return_score,
            noise=body.noise,
            seed=None if body.seed is None else body.seed + start,
        )
        result.extend((await service.retrieve(request)).result)
    return result
