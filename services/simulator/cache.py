"""Redis cache of finished search responses, with a TTL.

The key hashes everything that changes the output: model, prompt style, mode, query, question, answer,
k, seed, and the generation settings (temperature, token budget). The noise draw happens before the
lookup, so the cache never changes how often a call is noisy. Redis failures never fail a search: the
call bypasses the cache, a warning is logged and ``cache_errors`` counts it.

    cache = ResponseCache("redis://127.0.0.1:6379/0", ttl_s=86400, metrics=metrics)
    [hit] = await cache.get_many([key])
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

import redis
import redis.asyncio as aredis

from zerosearch.simulator.metrics import SimulatorMetrics

__all__ = ["ResponseCache", "cache_key"]

log = logging.getLogger(__name__)

_PREFIX = "zerosearch:simulator:v1:"
_ERROR_LOG_EVERY_S = 30.0
"""While Redis is down, log the failure at most this often (each bypass is still counted)."""


def cache_key(**parts: object) -> str:
    """A stable key for the named output-changing ``parts``."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return _PREFIX + hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """Get/set JSON responses in Redis; a disabled cache (no URL) always misses silently."""

    def __init__(self, url: str | None, *, ttl_s: int, timeout_s: float, metrics: SimulatorMetrics) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self.metrics = metrics
        self._last_error_log = 0.0
        self._client: aredis.Redis | None = None
        if url:
            # Short timeouts: a slow or dead Redis must cost a search milliseconds, not seconds.
            self._client = aredis.Redis.from_url(
                url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry_on_timeout=False
            )
        else:
            log.warning("no Redis URL configured (REDIS_URL): the simulator cache is off")

    @property
    def enabled(self) -> bool:
        """True when a Redis URL was configured."""
        return self._client is not None

    def _failed(self, action: str, exc: Exception) -> None:
        self.metrics.cache_errors.inc()
        now = time.monotonic()
        if now - self._last_error_log > _ERROR_LOG_EVERY_S:
            self._last_error_log = now
            log.warning("cache %s bypassed, Redis failed: %s: %s", action, type(exc).__name__, exc)

    async def get_many(self, keys: list[str]) -> list[dict[str, object] | None]:
        """The cached responses for ``keys`` (one MGET), None where missing, disabled or Redis down."""
        if self._client is None or not keys:
            return [None] * len(keys)
        try:
            raws = await self._client.mget(keys)
        except (redis.RedisError, OSError) as exc:
            self._failed("lookup", exc)
            return [None] * len(keys)
        hits = sum(raw is not None for raw in raws)
        self.metrics.cache_hits.inc(hits)
        self.metrics.cache_misses.inc(len(keys) - hits)
        return [json.loads(raw) if raw is not None else None for raw in raws]

    async def set_many(self, items: dict[str, dict[str, object]]) -> None:
        """Store every response for the TTL (one pipeline); failures are counted, not raised."""
        if self._client is None or not items:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(key, json.dumps(value, ensure_ascii=False), ex=self.ttl_s)
                await pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._failed("store", exc)

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
