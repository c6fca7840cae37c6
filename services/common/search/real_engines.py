"""Build a paid web-search backend (SerpAPI, Serper, Tavily, Brave) from its options, behind the engine cache.

    backend = make_real_engine(SerperOptions(api_key="…", redis_url="redis://…"), retry)

The cache (:mod:`zerosearch.common.search.engine_cache`) is on by default whenever a Redis is known
(``redis_url`` or ``REDIS_URL``), so a second evaluation of the same questions costs nothing; ``cache:
false`` turns it off. No Redis configured: a note in the log, and every call goes to the engine.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from zerosearch.common.search.base import SearchBackend
from zerosearch.common.search.engine_cache import CachedBackend, EngineCache

if TYPE_CHECKING:
    from zerosearch.common.search.factory import RealEngineOptions

__all__ = ["make_real_engine"]

log = logging.getLogger(__name__)


def _engine(opts: RealEngineOptions, retry: dict[str, Any]) -> SearchBackend:
    from zerosearch.common.search import factory as f

    if isinstance(opts, f.SerperOptions):
        from zerosearch.common.search.serper import SerperBackend

        return SerperBackend(api_key=opts.api_key, base_url=opts.base_url, gl=opts.gl, **retry)
    if isinstance(opts, f.TavilyOptions):
        from zerosearch.common.search.tavily import TavilyBackend

        return TavilyBackend(
            api_key=opts.api_key, base_url=opts.base_url, search_depth=opts.search_depth, **retry
        )
    if isinstance(opts, f.BraveOptions):
        from zerosearch.common.search.brave import BraveBackend

        return BraveBackend(api_key=opts.api_key, base_url=opts.base_url, country=opts.country, **retry)
    assert isinstance(opts, f.SerpAPIOptions)
    from zerosearch.common.search.serpapi import SerpAPIBackend

    return SerpAPIBackend(
        api_key=opts.api_key, base_url=opts.base_url, engine=opts.engine, gl=opts.gl, hl=opts.hl, **retry
    )


def make_real_engine(opts: RealEngineOptions, retry: dict[str, Any]) -> SearchBackend:
    """The engine named by ``opts``' type, cached in Redis unless ``opts.cache`` is false or no Redis is set."""
    engine = _engine(opts, retry)
    if not opts.cache:
        return engine
    url = opts.redis_url
    if url is None:
        from zerosearch.common.settings import get_common_settings

        url = get_common_settings().redis_url
    if not url:
        log.info("%s: no Redis configured (REDIS_URL), so its answers are not cached", engine.name)
        return engine
    return CachedBackend(engine, EngineCache(url, ttl_s=opts.cache_ttl_s))
