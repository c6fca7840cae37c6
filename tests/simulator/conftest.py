"""Simulator fixtures: the bundled model loaded ONCE, and real apps served by uvicorn on free ports.

Every app shares the one loaded model through its own TransformersEngine (engines are cheap wrappers),
so tests can vary queue limits, API keys and Redis without reloading. Generations are kept short
(``tokens_per_document``) because the suite runs on 2 CPU cores.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from zerosearch.common.connection import free_port
from zerosearch.simulator.local import serve_in_background
from zerosearch.simulator.settings import SimulatorSettings

__all__ = ["free_port", "serve_app"]


serve_app = serve_in_background  # the tests' name for it


@pytest.fixture(scope="session")
def loaded_model(bundled_model_path: str) -> tuple[Any, Any]:
    """The bundled SmolLM2-135M-Instruct and its tokenizer, loaded once for the session."""
    from zerosearch.common.models import load_causal_lm

    return load_causal_lm(bundled_model_path)


AppFactory = Callable[..., Any]


@pytest.fixture(scope="session")
def make_url(loaded_model: tuple[Any, Any]) -> Iterator[Callable[..., Any]]:
    """``with make_url(engine_cls=..., **settings) as url:`` serves a real app on the shared model."""
    from zerosearch.simulator.app import create_app
    from zerosearch.simulator.engines.transformers import TransformersEngine

    model, tokenizer = loaded_model

    @contextmanager
    def _make(engine_cls: type[TransformersEngine] = TransformersEngine, **overrides: Any) -> Iterator[str]:
        # Short generations: 12 new tokens a document keeps each call around a second on 2 cores.
        values = {"tokens_per_document": 12, "max_new_tokens": 48, "batch_wait_ms": 5.0, **overrides}
        settings = SimulatorSettings(**values)
        engine = engine_cls(settings, model=model, tokenizer=tokenizer)
        with serve_app(create_app(settings, engine=engine)) as url:
            yield url

    yield _make


@pytest.fixture(scope="session")
def sim_url(make_url: Callable[..., Any], redis_url: str) -> Iterator[str]:
    """The main app of the session: real Redis cache, small request-batch limit for the 422 test."""
    with make_url(redis_url=redis_url, max_request_batch=400, max_queue=512) as url:
        yield url


@pytest.fixture
def client(sim_url: str, redis_conn: Any) -> Iterator[httpx.Client]:
    """An HTTP client of the main app, with the cache (Redis) flushed around the test."""
    with httpx.Client(base_url=sim_url, timeout=300) as http:
        yield http


@pytest.fixture(scope="module")
def llama_server() -> Path:
    """llama-server from PATH or the cache, built into the cache the first time (minutes, once). Only a
    machine without cmake or a C++ compiler skips (make install says so); where they exist a failed build
    fails."""
    from zerosearch.common.errors import EngineError
    from zerosearch.simulator.engines.llama_server import llama_server_binary

    try:
        return llama_server_binary(os.environ.get("ZEROSEARCH_LLAMA_SERVER_PATH"))
    except EngineError as exc:
        compilers = ("c++", "g++", "clang++")
        if shutil.which("cmake") is None or not any(shutil.which(c) for c in compilers):
            pytest.skip(f"no llama-server and no toolchain to build one: {exc}")
        raise
