"""The simulator service as a search backend (``POST /search`` batch, ``GET /readyz``).

A whole turn goes out as ONE batch POST; when that fails, each request is retried on its own with the
base class's bounded back-off, then falls back to NO_INFORMATION (counted). Each request carries only its
own trajectory's question/answer (defect 1 of the reference code was a batch-indexing mix-up).

    backend = SimulatorBackend("http://localhost:8000")
    backend.search_batch([SearchRequest(query="moby dick author", noise=0.0)])
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, ValidationError

from zerosearch.common.documents import Document, format_documents
from zerosearch.common.errors import SearchBackendError
from zerosearch.common.search.base import BACKEND_ERRORS, SearchRequest, SearchResult
from zerosearch.common.search.http import HTTPBackend, json_body

__all__ = ["SimulatorBackend", "SimulatorResponse", "SimulatorResult"]

log = logging.getLogger(__name__)


class SimulatorResult(BaseModel):
    """One result of the simulator's ``/search`` (extra fields such as ``cached`` are allowed)."""

    query: str
    mode: Literal["useful", "noisy"]
    documents: list[Document] = Field(default_factory=list)
    formatted: str | None = None


class SimulatorResponse(BaseModel):
    """The simulator's batch answer: one result per request, in request order."""

    results: list[SimulatorResult]


def _body(request: SearchRequest) -> dict[str, Any]:
    # Field names are the simulator's ("q", not "query"); None fields are left out.
    body = {"q": request.query, "noise": request.noise, "k": request.k}
    for name in ("question", "answer", "seed", "mode"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    return body


def _to_result(request: SearchRequest, result: SimulatorResult) -> SearchResult:
    documents = result.documents[: request.k]
    return SearchResult(
        query=request.query,
        documents=documents,
        formatted=result.formatted or format_documents(documents),
        mode=result.mode,
    )


class SimulatorBackend(HTTPBackend):
    """Searches by asking the LLM search-engine simulator."""

    name = "simulator"

    def __init__(self, url: str, *, api_key: str | None = None, **retry: Any) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        super().__init__(url, headers=headers, **retry)

    async def check(self) -> None:
        """Fail fast when the simulator is down or not ready (names the URL)."""
        await self._probe("/readyz")

    async def _post(self, client: httpx.AsyncClient, requests: list[SearchRequest]) -> list[SimulatorResult]:
        response = await client.post("/search", json={"requests": [_body(r) for r in requests]})
        body = json_body(response, f"simulator at {self.url}/search")
        try:
            parsed = SimulatorResponse.model_validate(body)
        except ValidationError as exc:
            raise SearchBackendError(
                f"simulator at {self.url}/search answered an unknown shape: {exc}"
            ) from exc
        if len(parsed.results) != len(requests):
            raise SearchBackendError(
                f"simulator returned {len(parsed.results)} results for {len(requests)} requests"
            )
        return parsed.results

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        """One request as a batch of one (the base class retries)."""
        async with self.client() as client:
            [result] = await self._post(client, [request])
        return _to_result(request, result)

    async def _search_all(
        self, client: httpx.AsyncClient, requests: list[SearchRequest]
    ) -> list[SearchResult]:
        """One batch POST for the turn; on failure, each request with retries on its own."""
        try:
            # httpx times out per read, not per exchange: bound the whole batch like one attempt.
            results = await asyncio.wait_for(self._post(client, requests), timeout=self.timeout_s)
        except BACKEND_ERRORS as exc:  # the per-request path retries, then counts the failure
            log.warning("simulator batch of %d failed (%s); retrying one by one", len(requests), exc)
            return await super()._search_all(client, requests)
        return [_to_result(r, res) for r, res in zip(requests, results, strict=True)]
