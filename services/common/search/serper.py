"""Google via Serper (https://serper.dev) as a search backend, for evaluation and simulation tuning.

``POST {base_url}/search`` with ``X-API-KEY: <key>`` and ``{"q": …, "num": k}`` answers JSON whose
``organic[]`` carry ``title`` and ``snippet`` (https://serper.dev/playground shows the shape). Serper cannot
be reached from the offline test machine; the tests run this client against a local server that checks
the request and answers in that shape, and against the simulator's Serper-shaped endpoint.

    backend = SerperBackend(api_key=os.environ["SERPER_API_KEY"])
"""

from __future__ import annotations

import os
from typing import Any

from zerosearch.common.documents import Document, format_documents
from zerosearch.common.errors import ConfigError, SearchBackendError
from zerosearch.common.search.base import SearchRequest, SearchResult
from zerosearch.common.search.http import HTTPBackend, json_body

__all__ = ["SERPER_URL", "SerperBackend"]

SERPER_URL = "https://google.serper.dev"
"""Serper's public endpoint."""


def hits_to_result(query: str, hits: list[Any], k: int, text_key: str) -> SearchResult:
    """The first ``k`` hits that have text, as ranked documents (title may be empty)."""
    documents: list[Document] = []
    for hit in hits:
        if len(documents) == k:
            break
        if not isinstance(hit, dict):
            continue
        text = str(hit.get(text_key) or "").strip()
        if text:
            documents.append(Document(rank=len(documents) + 1, title=str(hit.get("title") or ""), text=text))
    return SearchResult(query=query, documents=documents, formatted=format_documents(documents))


class SerperBackend(HTTPBackend):
    """Searches Google through Serper; each result's ``mode`` is ``real``."""

    name = "serper"

    def __init__(
        self, *, api_key: str | None = None, base_url: str = SERPER_URL, gl: str | None = None, **retry: Any
    ) -> None:
        api_key = api_key or os.environ.get("SERPER_API_KEY")
        if not api_key:
            raise ConfigError(
                "serper needs an API key: set SERPER_API_KEY or pass api_key", param="SERPER_API_KEY"
            )
        super().__init__(base_url, headers={"X-API-KEY": api_key}, **retry)
        self.gl = gl

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        """One Google query (the base class retries)."""
        body: dict[str, Any] = {"q": request.query, "num": request.k}
        if self.gl:
            body["gl"] = self.gl
        async with self.client() as client:
            response = await client.post("/search", json=body)
        payload = json_body(response, "serper")
        if not isinstance(payload, dict) or not isinstance(payload.get("organic", []), list):
            raise SearchBackendError("serper answered JSON without an organic list")
        return hits_to_result(request.query, payload.get("organic", []), request.k, "snippet")
