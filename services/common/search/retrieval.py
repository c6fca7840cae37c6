"""A Search-R1-style retrieval server as a search backend (``POST /retrieve``).

Request ``{"queries": [...], "topk": k, "return_scores": true}``; response
``{"result": [[{"document": {"id", "contents"}, "score"}, ...], ...]}`` with ``contents`` written as
``"Title"\\ntext`` (Search-R1 ``search_r1/search/retrieval_server.py``). A turn is one POST.

    backend = RetrievalBackend("http://127.0.0.1:8000")
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from zerosearch.common.documents import Document, format_documents
from zerosearch.common.errors import SearchBackendError
from zerosearch.common.retry import UPSTREAM_ERRORS, upstream_error
from zerosearch.common.search.base import BACKEND_ERRORS, SearchRequest, SearchResult
from zerosearch.common.search.http import HTTPBackend, json_body

__all__ = ["RetrievalBackend", "parse_contents"]

log = logging.getLogger(__name__)


def parse_contents(contents: str) -> tuple[str, str]:
    """Split Search-R1's ``"Title"\\ntext`` into (title, text); no newline means no title."""
    head, newline, rest = contents.partition("\n")
    if not newline:
        return "", contents.strip()
    return head.strip().strip('"'), rest.strip()


def _documents(hits: list[Any], k: int) -> list[Document]:
    documents = []
    for rank, hit in enumerate(hits[:k], start=1):
        # With return_scores the hit wraps the document; without, the hit IS the document.
        doc = hit.get("document", hit) if isinstance(hit, dict) else None
        if not isinstance(doc, dict) or not isinstance(doc.get("contents"), str):
            raise SearchBackendError("retrieval result lacks document.contents")
        title, text = parse_contents(doc["contents"])
        documents.append(Document(rank=rank, title=title, text=text))
    return documents


class RetrievalBackend(HTTPBackend):
    """Searches a Search-R1 retrieval server (dense or BM25 over a Wikipedia dump)."""

    name = "retrieval"

    async def check(self) -> None:
        """Fail fast when the server cannot answer a one-query retrieval (names the URL)."""
        try:
            async with self._new_client() as client:
                await self._post(client, [SearchRequest(query="test", k=1)])
        except UPSTREAM_ERRORS as exc:
            url = f"{self.url}/retrieve"
            raise upstream_error(exc, "retrieval backend", SearchBackendError, url=url) from exc

    async def _post(self, client: httpx.AsyncClient, requests: list[SearchRequest]) -> list[list[Document]]:
        k = max(r.k for r in requests)
        body = {"queries": [r.query for r in requests], "topk": k, "return_scores": True}
        response = await client.post("/retrieve", json=body)
        payload = json_body(response, f"retrieval backend at {self.url}/retrieve")
        result = payload.get("result") if isinstance(payload, dict) else None
        if not isinstance(result, list) or len(result) != len(requests):
            raise SearchBackendError("retrieval response 'result' must hold one list per query")
        return [_documents(hits, r.k) for r, hits in zip(requests, result, strict=True)]

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        """One query (the base class retries)."""
        async with self.client() as client:
            [documents] = await self._post(client, [request])
        return SearchResult(query=request.query, documents=documents, formatted=format_documents(documents))

    async def _search_all(
        self, client: httpx.AsyncClient, requests: list[SearchRequest]
    ) -> list[SearchResult]:
        """One POST for the whole turn; per-request retries when it fails."""
        try:
            batches = await self._post(client, requests)
        except BACKEND_ERRORS as exc:  # the per-request path retries, then counts the failure
            log.warning("retrieval batch of %d failed (%s); retrying one by one", len(requests), exc)
            return await super()._search_all(client, requests)
        return [
            SearchResult(query=r.query, documents=docs, formatted=format_documents(docs))
            for r, docs in zip(requests, batches, strict=True)
        ]
