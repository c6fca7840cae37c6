"""The simulator service as a search backend (``POST /search`` batch, ``GET /readyz``).

Bodies and answers are the protocol's models (``zerosearch.common.search.protocol``), the ones the
simulator itself validates with. A whole turn goes out as ONE batch POST; when that fails, each request is retried on its own with the
base class's bounded back-off, then falls back to NO_INFORMATION (counted). Each request carries only its
own trajectory's question/answer (defect 1 of the reference code was a batch-indexing mix-up).

    backend = SimulatorBackend("http://localhost:8000")
    backend.search_batch([SearchRequest(query="moby dick author", noise=0.0)])
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from pydantic import ValidationError

from zerosearch.common.documents import format_documents
from zerosearch.common.errors import SearchBackendError
from zerosearch.common.search.base import BACKEND_ERRORS, SearchRequest, SearchResult
from zerosearch.common.search.http import HTTPBackend, json_body
from zerosearch.common.search.protocol import (
    BatchSearchRequest,
    BatchSearchResponse,
    SearchParams,
    SearchResponse,
)

__all__ = ["SimulatorBackend"]

log = logging.getLogger(__name__)


def _params(request: SearchRequest) -> SearchParams:
    """The protocol's request for one search call (field names are the simulator's: ``q``, not ``query``)."""
    fields = {"q": request.query, "noise": request.noise, "k": request.k}
    for name in ("question", "answer", "seed", "mode"):
        value = getattr(request, name)
        if value is not None:
            fields[name] = value
    try:
        return SearchParams(**fields)
    except ValidationError as exc:  # e.g. a blank query the policy wrote: this call fails, not the run
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SearchBackendError(f"search request not sent, {where}: {first['msg']}") from exc


def _to_result(request: SearchRequest, result: SearchResponse) -> SearchResult:
    documents = result.documents[: request.k]
    return SearchResult(
        query=request.query,
        documents=documents,
        formatted=result.formatted or format_documents(documents),
        mode=result.mode.value,
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

    async def _post(self, client: httpx.AsyncClient, requests: list[SearchRequest]) -> list[SearchResponse]:
        batch = BatchSearchRequest(requests=[_params(r) for r in requests])
        response = await client.post("/search", json=batch.model_dump(mode="json", exclude_none=True))
        body = json_body(response, f"simulator at {self.url}/search")
        try:
            parsed = BatchSearchResponse.model_validate(body)
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
