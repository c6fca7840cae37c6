"""Every lower-level error the platform meets maps to our error tree, none is left unmapped (style.md:
"translate lower-level errors at the boundary, and test that none is left unmapped", as httpx's
tests/test_exceptions.py does for httpcore)."""

from __future__ import annotations

import inspect

import httpx
import pytest
import redis.exceptions
import torch

from zerosearch.common.error_map import OPTIONAL_PACKAGES, map_error
from zerosearch.common.errors import (
    ConfigError,
    EngineError,
    EngineOverloadedError,
    RedisUnavailableError,
    SearchBackendError,
    ServerError,
)


def _concrete_subclasses(base: type[BaseException], module) -> list[type[BaseException]]:  # type: ignore[no-untyped-def]
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, base) and cls is not base
    ]


def _instance(cls: type[BaseException]) -> BaseException:
    request = httpx.Request("GET", "http://upstream/x")
    if issubclass(cls, httpx.HTTPStatusError):
        return cls("503", request=request, response=httpx.Response(503, request=request))
    if issubclass(cls, httpx.RequestError):
        return cls("failed", request=request)
    return cls("failed")


@pytest.mark.parametrize(
    "cls", [httpx.HTTPError, *_concrete_subclasses(httpx.HTTPError, httpx)], ids=lambda c: c.__name__
)
def test_every_httpx_error_maps_to_the_given_server_error(cls: type[BaseException]) -> None:
    mapped = map_error(_instance(cls), what="simulator backend", upstream=SearchBackendError)
    assert isinstance(mapped, SearchBackendError) and mapped.message.startswith("simulator backend")


def test_timeouts_map_too() -> None:
    mapped = map_error(TimeoutError(), what="judge endpoint", upstream=EngineError)
    assert isinstance(mapped, EngineError) and "timed out" in mapped.message


@pytest.mark.parametrize(
    "cls", [redis.exceptions.RedisError, *_concrete_subclasses(redis.exceptions.RedisError, redis.exceptions)],
    ids=lambda c: c.__name__,
)  # fmt: skip
def test_every_redis_error_maps_to_redis_unavailable(cls: type[BaseException]) -> None:
    # Cluster redirections carry "<slot> <host:port>"; every other error takes a plain message.
    moved = issubclass(cls, redis.exceptions.AskError | redis.exceptions.MovedError)
    mapped = map_error(cls("3999 127.0.0.1:6381" if moved else "down"))
    assert isinstance(mapped, RedisUnavailableError) and mapped.status_code == 503


def test_torch_out_of_memory_is_an_overloaded_engine() -> None:
    for error in (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                  torch.cuda.OutOfMemoryError("CUDA out of memory")):  # fmt: skip
        mapped = map_error(error)
        assert (
            isinstance(mapped, EngineOverloadedError) and mapped.status_code == 503 and mapped.retry_after > 0
        )


def test_vllm_engine_errors_are_engine_errors() -> None:
    # vLLM is not installed on CPU machines: a class from its modules stands in (unverified against real vLLM).
    dead = type("EngineDeadError", (RuntimeError,), {"__module__": "vllm.v1.engine.exceptions"})
    mapped = map_error(dead("EngineCore encountered an issue"))
    assert isinstance(mapped, EngineError) and "EngineDeadError" in mapped.message


@pytest.mark.parametrize("package", sorted(OPTIONAL_PACKAGES))
def test_a_missing_optional_package_says_what_to_install(package: str) -> None:
    mapped = map_error(ModuleNotFoundError(f"No module named '{package}'", name=package))
    assert isinstance(mapped, ConfigError) and "pip install" in mapped.message and mapped.param == package


@pytest.mark.parametrize(
    "bug", [ValueError("x"), KeyError("k"), TypeError("t"), ImportError("y", name="numpyy")]
)
def test_a_bug_is_not_mapped(bug: BaseException) -> None:
    assert map_error(bug) is None


def test_our_errors_pass_through() -> None:
    error = ServerError("ours")
    assert map_error(error) is error
