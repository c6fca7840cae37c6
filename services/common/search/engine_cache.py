"""One Redis response cache for real search engines (SerpAPI, Serper, Tavily, Brave): pay once a query.

A real engine costs money per call, and an evaluation asks the same questions again and again. The cache
wraps any backend: the key is (engine, query, k), the value the whole :class:`SearchResult`, kept for
``ttl_s`` seconds. A Redis failure never fails a search: the call goes to the engine, a warning is logged.

    backend = CachedBackend(SerperBackend(api_key=key), EngineCache("redis://127.0.0.1:6379/0", ttl_s=604800))
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time

import redis

from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult

__all__ = ["ENGINE_CACHE_TTL_S", "CachedBackend", "EngineCache", "engine_cache_key"]

log = logging.getLogger(__name__)

ENGINE_CACHE_TTL_S = 7 * 24 * 3600
"""Default lifetime of a cached real-engine answer (a week: results drift slowly, evaluations repeat)."""

_PREFIX = "zerosearch:engine:v1:"
_ERROR_LOG_EVERY_S = 30.0


def engine_cache_key(engine: str, query: str, k: int) -> str:
    """The Redis key of one (engine, query, k) answer."""
    blob = json.dumps([engine, query, k], ensure_ascii=False)
    return _PREFIX + hashlib.sha256(blob.encode()).hexdigest()


class EngineCache:
    """Get/set search results in Redis with a TTL; Redis errors are logged and bypassed."""

    def __init__(self, url: str, *, ttl_s: int = ENGINE_CACHE_TTL_S, timeout_s: float = 2.0) -> None:
        if ttl_s < 1:
            raise ValueError(f"ttl_s must be ≥ 1 second, got {ttl_s}")
        self.url = url
        self.ttl_s = ttl_s
        # A sync client used from a worker thread: search_batch runs each turn on a fresh event loop, which
        # an asyncio client could not outlive.
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._last_error_log = 0.0
        self.hits = 0
        self.misses = 0

    def _warn(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= _ERROR_LOG_EVERY_S:
            self._last_error_log = now
            log.warning("engine cache %s failed (%s): searching without the cache", what, exc)

    async def get(self, engine: str, query: str, k: int) -> SearchResult | None:
        """The cached result, or None (miss or Redis unavailable)."""
        try:
            raw = await asyncio.to_thread(self._redis.get, engine_cache_key(engine, query, k))
        except redis.RedisError as exc:
            self._warn("read", exc)
            return None
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        return SearchResult.model_validate_json(raw)

    async def set(self, engine: str, query: str, k: int, result: SearchResult) -> None:
        """Store a successful result for ``ttl_s`` seconds."""
        value = result.model_dump_json(include={"query", "documents", "formatted", "mode"})
        try:
            await asyncio.to_thread(self._redis.set, engine_cache_key(engine, query, k), value, ex=self.ttl_s)
        except redis.RedisError as exc:
            self._warn("write", exc)

    def close(self) -> None:
        """Close the Redis connections."""
        self._redis.close()


class CachedBackend(SearchBackend):
    """``inner`` behind the engine cache: a hit costs no call; a miss calls ``inner`` and stores the answer.

    Failed calls are never cached. Retries, timeouts and the visible fallback are the base class's.
    """

    def __init__(self, inner: SearchBackend, cache: EngineCache) -> None:
        self.name = inner.name
        super().__init__(timeout_s=inner.timeout_s, retries=inner.retries, backoff_s=inner.policy.backoff_s)
        self.inner = inner
        self.cache = cache

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        """The cached answer, else one call to the engine (stored when it succeeds)."""
        hit = await self.cache.get(self.name, request.query, request.k)
        if hit is not None:
            return hit
        result = await self.inner._search_once(request)
        await self.cache.set(self.name, request.query, request.k, result)
        return result

    async def check(self) -> None:
        """The engine's own check."""
        await self.inner.check()

    async def aclose(self) -> None:
        """Close the engine and the cache."""
        await self.inner.aclose()
        self.cache.close()
