"""Tavily (https://tavily.com) as a search backend, for evaluation and simulation tuning.

``POST {base_url}/search`` with ``Authorization: Bearer <key>`` and ``{"query": …, "max_results": k}``
answers JSON whose ``results[]`` carry ``title``, ``url``, ``content`` and ``score``
(https://docs.tavily.com/documentation/api-reference/endpoint/search). Tavily cannot be reached from the
offline test machine; the tests run this client against a local server that checks the request and
answers in that shape, and against the simulator's Tavily-shaped endpoint.

    backend = TavilyBackend(api_key=os.environ["TAVILY_API_KEY"])
"""

from __future__ import annotations

import os
from typing import Any, Literal

from zerosearch.common.errors import ConfigError, SearchBackendError
from zerosearch.common.search.base import SearchRequest, SearchResult
from zerosearch.common.search.http import HTTPBackend, json_body
from zerosearch.common.search.serper import hits_to_result

__all__ = ["TAVILY_URL", "TavilyBackend"]

TAVILY_URL = "https://api.tavily.com"
"""Tavily's public endpoint."""


class TavilyBackend(HTTPBackend):
    """Searches the web through Tavily; each result's ``mode`` is ``real``."""

    name = "tavily"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str = TAVILY_URL,
        search_depth: Literal["basic", "advanced"] = "basic",
        **retry: Any,
    ) -> None:
        api_key = api_key or os.environ.get("TAVILY_API_KEY")
        if not api_key:
            raise ConfigError(
                "tavily needs an API key: set TAVILY_API_KEY or pass api_key", param="TAVILY_API_KEY"
            )
        super().__init__(base_url, headers={"Authorization": f"Bearer {api_key}"}, **retry)
        self.search_depth = search_depth

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        """One web query (the base class retries)."""
        body = {"query": request.query, "max_results": request.k, "search_depth": self.search_depth}
        async with self.client() as client:
            response = await client.post("/search", json=body)
        payload = json_body(response, "tavily")
        if not isinstance(payload, dict) or not isinstance(payload.get("results", []), list):
            raise SearchBackendError("tavily answered JSON without a results list")
        return hits_to_result(request.query, payload.get("results", []), request.k, "content")
