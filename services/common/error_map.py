"""Lower-level errors → the platform's error tree, in one place (as httpx maps httpcore's errors).

    httpx.HTTPStatusError / TransportError / TimeoutException   → ``upstream`` class (default ServerError)
    redis.exceptions.RedisError (connection, timeout, …)        → RedisUnavailableError
    torch.OutOfMemoryError (CUDA or other accelerator)          → EngineOverloadedError (503, retry later)
    an error raised from vLLM's modules (dead engine, …)        → EngineError
    ImportError of an optional package (vllm, bm25s, …)         → ConfigError naming what to install
    a ZeroSearchError                                           → itself

Anything else is a bug and is returned as None by :func:`map_error`, so callers re-raise it unchanged.

    try:
        engine.generate(batch)
    except Exception as exc:
        raise map_error(exc, upstream=EngineError) or exc
"""

from __future__ import annotations

import redis

from zerosearch.common.errors import (
    ConfigError,
    EngineError,
    EngineOverloadedError,
    RedisUnavailableError,
    ServerError,
    ZeroSearchError,
)
from zerosearch.common.retry import UPSTREAM_ERRORS, upstream_error

__all__ = ["OPTIONAL_PACKAGES", "map_error"]

OPTIONAL_PACKAGES = {
    "vllm": "pip install 'zerosearch[vllm]' (GPU)",
    "fastapi": "pip install 'zerosearch[simulator]'",
    "uvicorn": "pip install 'zerosearch[simulator]'",
    "bm25s": "pip install 'zerosearch[evaluator]'",
    "Stemmer": "pip install 'zerosearch[evaluator]'",
    "matplotlib": "pip install 'zerosearch[evaluator]'",
    "trl": "pip install 'zerosearch[trainer]'",
    "peft": "pip install 'zerosearch[trainer]'",
    "datasets": "pip install 'zerosearch[evaluator]'",
    "pyarrow": "pip install 'zerosearch[evaluator]'",
}
"""Top-level module of each optional dependency → how to install it."""


def _is_oom(exc: BaseException) -> bool:
    # torch.OutOfMemoryError (torch ≥ 2.5; torch.cuda.OutOfMemoryError is the same class), checked by
    # name so that this module never imports torch.
    return any(
        cls.__name__ == "OutOfMemoryError" and cls.__module__.startswith("torch") for cls in type(exc).__mro__
    )


def _from_vllm(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] == "vllm"


def map_error(
    exc: BaseException, *, what: str = "upstream service", upstream: type[ServerError] = ServerError
) -> ZeroSearchError | None:
    """Our error for ``exc`` (see the module docstring), or None when ``exc`` is not a known lower-level
    error (a bug: the caller re-raises it as it is)."""
    if isinstance(exc, ZeroSearchError):
        return exc
    if isinstance(exc, UPSTREAM_ERRORS):
        return upstream_error(exc, what, upstream)
    if isinstance(exc, redis.exceptions.RedisError):
        return RedisUnavailableError(f"Redis failed: {type(exc).__name__}: {exc}")
    if _is_oom(exc):
        return EngineOverloadedError(
            f"the engine ran out of accelerator memory: {str(exc)[:200]}", retry_after=5.0
        )
    if _from_vllm(exc):
        return EngineError(f"vLLM failed: {type(exc).__name__}: {exc}")
    if isinstance(exc, ImportError):
        package = (exc.name or "").split(".")[0]
        if package in OPTIONAL_PACKAGES:
            return ConfigError(f"{package} is not installed: {OPTIONAL_PACKAGES[package]}", param=package)
    return None
