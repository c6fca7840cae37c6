"""Brave Search (https://brave.com/search/api/) as a search backend, for evaluation and simulation tuning.

``GET {base_url}/res/v1/web/search?q=…&count=k`` with ``X-Subscription-Token: <key>`` answers JSON whose
``web.results[]`` carry ``title``, ``url`` and ``description`` (with ``<strong>`` highlights, removed here).
Brave cannot be reached from the offline test machine; the tests run this client against a local server
that checks the request and answers in that shape, and against the simulator's Brave-shaped endpoint.

    backend = BraveBackend(api_key=os.environ["BRAVE_API_KEY"])
"""

from __future__ import annotations

import html
import os
import re
from typing import Any

from zerosearch.common.errors import ConfigError, SearchBackendError
from zerosearch.common.search.base import SearchRequest, SearchResult
from zerosearch.common.search.http import HTTPBackend, json_body
from zerosearch.common.search.serper import hits_to_result

__all__ = ["BRAVE_URL", "BraveBackend"]

BRAVE_URL = "https://api.search.brave.com"
"""Brave Search API's public endpoint."""

_TAG = re.compile(r"<[^>]+>")


class BraveBackend(HTTPBackend):
    """Searches the web through Brave; each result's ``mode`` is ``real``."""

    name = "brave"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str = BRAVE_URL,
        country: str | None = None,
        **retry: Any,
    ) -> None:
        api_key = api_key or os.environ.get("BRAVE_API_KEY")
        if not api_key:
            raise ConfigError(
                "brave needs an API key: set BRAVE_API_KEY or pass api_key", param="BRAVE_API_KEY"
            )
        headers = {"X-Subscription-Token": api_key, "Accept": "application/json"}
        super().__init__(base_url, headers=headers, **retry)
        self.country = country

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        """One web query (the base class retries)."""
        params: dict[str, str] = {"q": request.query, "count": str(request.k)}
        if self.country:
            params["country"] = self.country
        async with self.client() as client:
            response = await client.get("/res/v1/web/search", params=params)
        payload = json_body(response, "brave")
        web = payload.get("web", {"results": []}) if isinstance(payload, dict) else None
        if not isinstance(web, dict) or not isinstance(web.get("results", []), list):
            raise SearchBackendError("brave answered JSON without web.results")
        hits = [
            {"title": html.unescape(_TAG.sub("", str(h.get("title") or ""))),
             "text": html.unescape(_TAG.sub("", str(h.get("description") or "")))}
            for h in web.get("results", []) if isinstance(h, dict)
        ]  # fmt: skip
        return hits_to_result(request.query, hits, request.k, "text")
