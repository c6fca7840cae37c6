"""Search backends behind one interface: simulator (HTTP), bm25 (local), retrieval (Search-R1), serpapi.

Backends import their heavy dependencies (bm25s) only when built, so importing this package is cheap.
"""

from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult, run_sync
from zerosearch.common.search.factory import BACKEND_NAMES, make_backend

__all__ = ["BACKEND_NAMES", "SearchBackend", "SearchRequest", "SearchResult", "make_backend", "run_sync"]
