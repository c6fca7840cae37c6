"""The search-backend interface shared by the agent loop, the trainer and the evaluator.

Every backend (simulator over HTTP, local BM25, Search-R1 retrieval URL, SerpAPI) implements
``_search_once``; this base class bounds each attempt by the timeout, retries with the platform's one
policy (:mod:`zerosearch.common.retry`: transport errors, timeouts, 429/5xx) and falls back visibly: when
the backend failed (an upstream error or a :class:`SearchBackendError`) a call returns ``failed=True`` with
the NO_INFORMATION observation, so one failing question never aborts a run and every failure is counted.
Any other exception is a bug and propagates.

    backend = BM25Backend(corpus_path)
    results = backend.search_batch([SearchRequest(query="moby dick author")])   # sync, concurrent inside
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from abc import ABC, abstractmethod
from typing import Literal

from pydantic import BaseModel, Field

from zerosearch.common.defaults import (
    DEFAULT_TOP_K,
    MAX_TOP_K,
    NO_INFORMATION,
    SEARCH_BACKOFF_S,
    SEARCH_RETRIES,
    SEARCH_TIMEOUT_S,
)
from zerosearch.common.documents import Document
from zerosearch.common.errors import SearchBackendError
from zerosearch.common.retry import UPSTREAM_ERRORS, RetryPolicy, upstream_error

__all__ = ["BACKEND_ERRORS", "SearchBackend", "SearchRequest", "SearchResult", "run_sync"]

log = logging.getLogger(__name__)

BACKEND_ERRORS: tuple[type[Exception], ...] = (*UPSTREAM_ERRORS, SearchBackendError)
"""The failures a search falls back on (counted); anything else is a bug and is raised."""


class SearchRequest(BaseModel):
    """One search call made by a trajectory. question/answer condition the simulator only."""

    query: str = Field(description="The policy's search query.")
    k: int = Field(default=DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description="Documents to return.")
    noise: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Probability the call is noisy (simulator)."
    )
    question: str | None = Field(default=None, description="The trajectory's own question (simulator).")
    answer: str | None = Field(default=None, description="The trajectory's first gold answer (simulator).")
    seed: int | None = Field(default=None, description="Makes the noise draw and sampling reproducible.")
    mode: Literal["useful", "noisy"] | None = Field(default=None, description="Force a simulator mode.")


class SearchResult(BaseModel):
    """What one call returned; ``failed`` results carry the NO_INFORMATION observation."""

    query: str
    documents: list[Document] = Field(default_factory=list)
    formatted: str = NO_INFORMATION
    mode: Literal["useful", "noisy", "real"] = "real"
    failed: bool = False
    error: str | None = None
    attempts: int = 1
    latency_ms: float = 0.0


class SearchBackend(ABC):
    """Base of every search backend: bounded retries with exponential back-off, then a visible fallback."""

    name: str = "base"

    def __init__(
        self,
        *,
        timeout_s: float = SEARCH_TIMEOUT_S,
        retries: int = SEARCH_RETRIES,
        backoff_s: float = SEARCH_BACKOFF_S,
    ) -> None:
        self.timeout_s = timeout_s
        self.policy = RetryPolicy(retries=max(1, retries), backoff_s=backoff_s, what=f"{self.name} search")

    @property
    def retries(self) -> int:
        """Attempts per call, the first included."""
        return self.policy.retries

    @abstractmethod
    async def _search_once(self, request: SearchRequest) -> SearchResult:
        """One attempt; raise an upstream error (httpx, timeout) or SearchBackendError on failure."""

    async def check(self) -> None:
        """Raise SearchBackendError when the backend cannot serve at all (used to fail fast at start)."""

    async def aclose(self) -> None:
        """Release connections (default: nothing to release)."""

    async def search(self, request: SearchRequest) -> SearchResult:
        """Search with retries; a backend failure gives ``failed=True`` (counted), a bug raises."""
        start = time.perf_counter()
        attempts = 0

        async def attempt() -> SearchResult:
            nonlocal attempts
            attempts += 1
            return await asyncio.wait_for(self._search_once(request), timeout=self.timeout_s)

        try:
            result = await self.policy.acall(attempt)
        except BACKEND_ERRORS as exc:
            if not isinstance(exc, SearchBackendError):
                exc = upstream_error(exc, f"{self.name} backend", SearchBackendError, attempts=attempts)
            log.warning("%s search gave up: %s", self.name, exc)
            return SearchResult(
                query=request.query,
                failed=True,
                error=str(exc),
                attempts=attempts,
                latency_ms=(time.perf_counter() - start) * 1000,
            )
        result.attempts = attempts
        result.latency_ms = (time.perf_counter() - start) * 1000
        return result

    async def search_many(self, requests: list[SearchRequest]) -> list[SearchResult]:
        """All requests concurrently, results in request order."""
        return list(await asyncio.gather(*(self.search(r) for r in requests)))

    def search_batch(self, requests: list[SearchRequest]) -> list[SearchResult]:
        """Synchronous :meth:`search_many` for callers without an event loop (agent loop, workers)."""
        return run_sync(self.search_many(requests))


def run_sync(coro):  # type: ignore[no-untyped-def]
    """Run a coroutine from sync code, also when the caller already sits inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Inside a running loop (a notebook, an async server): run it on a private loop in a worker thread.

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
