"""Build a search backend by name from validated options (CLI flags, job configs, YAML).

    backend = make_backend("bm25", corpus="data/corpus/wiki_mini.jsonl")
    backend = make_backend("simulator", url="http://localhost:8000", timeout_s=30)

Unknown names and bad or unknown options raise ConfigError naming the option and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zerosearch.common.defaults import SEARCH_BACKOFF_S, SEARCH_RETRIES, SEARCH_TIMEOUT_S, SIMULATOR_PORT
from zerosearch.common.errors import ConfigError
from zerosearch.common.io import default_corpus
from zerosearch.common.search.base import SearchBackend

__all__ = [
    "BACKEND_NAMES",
    "BM25Options",
    "BackendOptions",
    "BraveOptions",
    "RealEngineOptions",
    "RetrievalOptions",
    "SerpAPIOptions",
    "SerperOptions",
    "SimulatorOptions",
    "TavilyOptions",
    "make_backend",
]

BackendName = Literal["simulator", "bm25", "retrieval", "serpapi", "serper", "tavily", "brave"]
BACKEND_NAMES: tuple[str, ...] = ("simulator", "bm25", "retrieval", "serpapi", "serper", "tavily", "brave")
"""Every backend ``make_backend`` knows."""


class BackendOptions(BaseModel):
    """Options every backend takes: the timeout/retry/back-off policy."""

    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(default=SEARCH_TIMEOUT_S, gt=0, le=3600, description="Seconds per attempt.")
    retries: int = Field(default=SEARCH_RETRIES, ge=1, le=10, description="Attempts before the fallback.")
    backoff_s: float = Field(default=SEARCH_BACKOFF_S, ge=0, le=60, description="First back-off; doubles.")


class SimulatorOptions(BackendOptions):
    """The simulator service."""

    url: str = Field(
        default=f"http://localhost:{SIMULATOR_PORT}",
        pattern=r"^https?://",
        description="Base URL of the simulator (http:// or https://).",
    )
    api_key: str | None = Field(default=None, description="Sent as Authorization: Bearer when set.")


class BM25Options(BackendOptions):
    """A local BM25 index over a ``{id,title,text}`` JSONL corpus."""

    corpus: Path | None = Field(
        default=None, description="Corpus JSONL; default: <data_dir>/corpus/wiki_mini.jsonl."
    )
    cache_dir: Path | None = Field(default=None, description="Index cache root; default: settings.cache_dir.")
    stemmer: str | None = Field(default="english", description="Snowball stemmer name, or None for none.")


class RetrievalOptions(BackendOptions):
    """A Search-R1-style retrieval server."""

    url: str = Field(pattern=r"^https?://", description="Base URL of the server (POST <url>/retrieve).")


class RealEngineOptions(BackendOptions):
    """A paid web-search API: its answers go through the shared Redis engine cache (engine_cache.py)."""

    api_key: str | None = Field(default=None, description="API key; default: the engine's variable.")
    cache: bool = Field(default=True, description="Cache answers in Redis (needs redis_url or REDIS_URL).")
    cache_ttl_s: int = Field(default=7 * 24 * 3600, ge=1, description="Seconds a cached answer is kept.")
    redis_url: str | None = Field(default=None, description="Redis of the cache; default: REDIS_URL.")


class SerpAPIOptions(RealEngineOptions):
    """Google via SerpAPI."""

    api_key: str | None = Field(default=None, description="SerpAPI key; default: $SERPAPI_API_KEY.")
    base_url: str = Field(default="https://serpapi.com", pattern=r"^https?://", description="API root.")
    engine: str = Field(default="google", description="SerpAPI engine.")
    gl: str | None = Field(default=None, description="Google country code.")
    hl: str | None = Field(default=None, description="Google interface language.")


class SerperOptions(RealEngineOptions):
    """Google via Serper."""

    base_url: str = Field(default="https://google.serper.dev", pattern=r"^https?://", description="API root.")
    gl: str | None = Field(default=None, description="Google country code.")


class TavilyOptions(RealEngineOptions):
    """Tavily web search."""

    base_url: str = Field(default="https://api.tavily.com", pattern=r"^https?://", description="API root.")
    search_depth: Literal["basic", "advanced"] = Field(default="basic", description="basic or advanced.")


class BraveOptions(RealEngineOptions):
    """Brave web search."""

    base_url: str = Field(default="https://api.search.brave.com", pattern=r"^https?://", description="Root.")
    country: str | None = Field(default=None, description="Country code.")


_OPTIONS: dict[str, type[BackendOptions]] = {
    "simulator": SimulatorOptions,
    "bm25": BM25Options,
    "retrieval": RetrievalOptions,
    "serpapi": SerpAPIOptions,
    "serper": SerperOptions,
    "tavily": TavilyOptions,
    "brave": BraveOptions,
}


def _validate(name: str, options: dict[str, Any]) -> BackendOptions:
    """Options as a typed model; the first problem becomes a ConfigError naming the option."""
    model = _OPTIONS[name]
    try:
        return model.model_validate(options)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or name
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(model.model_fields))
            message = f"unknown option {field!r} for search backend {name!r}; allowed: {allowed}"
        else:
            description = model.model_fields[field].description if field in model.model_fields else ""
            message = f"search option {field!r}: {error['msg']}" + (
                f" ({description})" if description else ""
            )
        raise ConfigError(message, param=field) from None


def _default_corpus() -> Path:
    from zerosearch.common.settings import get_common_settings

    data_dir = get_common_settings().data_dir
    if data_dir is None:
        raise ConfigError(
            "bm25 needs a corpus: pass corpus=<file.jsonl> or set ZEROSEARCH_DATA_DIR", param="corpus"
        )
    return default_corpus(data_dir)


def make_backend(name: str, **options: Any) -> SearchBackend:
    """The backend called ``name`` (simulator, bm25, retrieval, serpapi) built from validated options."""
    key = str(name).strip().lower()
    if key not in _OPTIONS:
        raise ConfigError(
            f"unknown search backend {name!r}: use one of {', '.join(BACKEND_NAMES)}", param="search"
        )
    opts = _validate(key, {k: v for k, v in options.items() if v is not None})
    retry = {"timeout_s": opts.timeout_s, "retries": opts.retries, "backoff_s": opts.backoff_s}
    if isinstance(opts, SimulatorOptions):
        from zerosearch.common.search.simulator import SimulatorBackend

        return SimulatorBackend(opts.url, api_key=opts.api_key, **retry)
    if isinstance(opts, BM25Options):
        from zerosearch.common.search.bm25 import BM25Backend

        return BM25Backend(
            opts.corpus or _default_corpus(), cache_dir=opts.cache_dir, stemmer=opts.stemmer, **retry
        )
    if isinstance(opts, RetrievalOptions):
        from zerosearch.common.search.retrieval import RetrievalBackend

        return RetrievalBackend(opts.url, **retry)
    assert isinstance(opts, RealEngineOptions)
    from zerosearch.common.search.real_engines import make_real_engine

    return make_real_engine(opts, retry)
