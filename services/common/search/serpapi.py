"""Google via SerpAPI as a search backend (the paper's real engine at test time).

``GET {base_url}/search.json?engine=google&q=…&num=k&api_key=…`` answers JSON whose
``organic_results[]`` carry ``title`` and ``snippet`` (https://serpapi.com/search-api). SerpAPI cannot
be reached from the offline test machine; the tests run this client against a local HTTP server that
answers in that documented shape.

    backend = SerpAPIBackend(api_key=os.environ["SERPAPI_API_KEY"])
"""

from __future__ import annotations

import os
from typing import Any

from zerosearch.common.documents import Document, format_documents
from zerosearch.common.errors import ConfigError, SearchBackendError
from zerosearch.common.search.base import SearchRequest, SearchResult
from zerosearch.common.search.http import HTTPBackend, json_body

__all__ = ["SERPAPI_URL", "SerpAPIBackend"]

SERPAPI_URL = "https://serpapi.com"
"""SerpAPI's public endpoint."""


class SerpAPIBackend(HTTPBackend):
    """Searches Google through SerpAPI; each result's ``mode`` is ``real``."""

    name = "serpapi"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str = SERPAPI_URL,
        engine: str = "google",
        gl: str | None = None,
        hl: str | None = None,
        **retry: Any,
    ) -> None:
        api_key = api_key or os.environ.get("SERPAPI_API_KEY")
        if not api_key:
            raise ConfigError(
                "serpapi needs an API key: set SERPAPI_API_KEY or pass api_key", param="SERPAPI_API_KEY"
            )
        super().__init__(base_url, **retry)
        self._params = {"engine": engine, "api_key": api_key}
        self._params.update({k: v for k, v in {"gl": gl, "hl": hl}.items() if v})

    async def check(self) -> None:
        """Fail fast on a wrong key or an unreachable endpoint (account.json is free of charge)."""
        await self._probe("/account.json", params={"api_key": self._params["api_key"]})

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        """One Google query (the base class retries)."""
        params = {**self._params, "q": request.query, "num": str(request.k)}
        async with self.client() as client:
            response = await client.get("/search.json", params=params)
        payload = json_body(response, "serpapi")
        if not isinstance(payload, dict):
            raise SearchBackendError("serpapi answered JSON that is not an object")
        if payload.get("error") and not payload.get("organic_results"):
            # "Google hasn't returned any results" is an answer, not a failure.
            if "hasn't returned any results" in str(payload["error"]):
                return SearchResult(query=request.query, formatted=format_documents([]))
            raise SearchBackendError(f"serpapi error: {payload['error']}")
        documents = []
        for hit in payload.get("organic_results", [])[: request.k]:
            text = (hit.get("snippet") or "").strip()
            if text:
                documents.append(Document(rank=len(documents) + 1, title=hit.get("title") or "", text=text))
        return SearchResult(query=request.query, documents=documents, formatted=format_documents(documents))
