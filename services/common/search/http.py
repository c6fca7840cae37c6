"""What the HTTP backends (simulator, retrieval, SerpAPI) share: one httpx client per event loop.

An ``httpx.AsyncClient`` is bound to the event loop it first ran on, and ``search_batch`` runs each turn
on a fresh loop (``asyncio.run``), so a client is opened per ``search_many`` call and handed to the
per-request attempts through a context variable (tasks created by ``asyncio.gather`` inherit it).
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from zerosearch.common.errors import SearchBackendError
from zerosearch.common.retry import UPSTREAM_ERRORS, upstream_error
from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult

__all__ = ["HTTPBackend", "json_body"]

_CLIENT: contextvars.ContextVar[httpx.AsyncClient | None] = contextvars.ContextVar("client", default=None)


def json_body(response: httpx.Response, what: str) -> Any:
    """The JSON of a 2xx answer; a 4xx/5xx raises ``httpx.HTTPStatusError`` (the retry policy sorts it), a
    body that is not JSON raises SearchBackendError naming ``what``."""
    response.raise_for_status()
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SearchBackendError(f"{what} answered a body that is not JSON: {response.text[:100]!r}") from exc


class HTTPBackend(SearchBackend):
    """A backend behind an HTTP endpoint: base URL, optional headers, a client per event loop."""

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **retry: Any,
    ) -> None:
        super().__init__(**retry)
        self.url = url.rstrip("/")
        self.headers = headers or {}
        self.transport = transport  # httpx's own seam (e.g. httpx.MockTransport); None = the network

    def _new_client(self) -> httpx.AsyncClient:
        # Connect fast, read up to the search timeout (the base class also bounds each attempt).
        timeout = httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s))
        return httpx.AsyncClient(
            base_url=self.url, headers=self.headers, timeout=timeout, transport=self.transport
        )

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """The client of the current ``search_many`` call, or a short-lived one outside it."""
        current = _CLIENT.get()
        if current is not None:
            yield current
            return
        async with self._new_client() as fresh:
            yield fresh

    async def search_many(self, requests: list[SearchRequest]) -> list[SearchResult]:
        """All requests concurrently over one client (opened on this call's event loop)."""
        if not requests:
            return []
        async with self._new_client() as client:
            token = _CLIENT.set(client)
            try:
                return await self._search_all(client, requests)
            finally:
                _CLIENT.reset(token)

    async def _search_all(
        self, client: httpx.AsyncClient, requests: list[SearchRequest]
    ) -> list[SearchResult]:
        """Default: one request each, concurrently (subclasses may batch)."""
        return await SearchBackend.search_many(self, requests)

    async def _probe(self, path: str, params: dict[str, str] | None = None) -> None:
        """GET ``path``; raise SearchBackendError naming the URL unless it answers 2xx."""
        url = f"{self.url}{path}"
        try:
            async with self._new_client() as client:
                (await client.get(path, params=params)).raise_for_status()
        except UPSTREAM_ERRORS as exc:
            raise upstream_error(exc, f"{self.name} backend", SearchBackendError, url=url) from exc
