"""Shared fixtures: a real Redis (REDIS_URL or embedded), the bundled model (converted once), local data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never reach a model hub; set before transformers is imported anywhere.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Busy-waiting OpenMP threads starve the other processes of a test (simulator, workers) on 2 cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Variables that change behaviour: cleared for each test so the developer's shell cannot leak in.
_BEHAVIOUR_ENV = ("ZEROSEARCH_API_KEY", "ZEROSEARCH_ENGINE", "ZEROSEARCH_MODEL", "ZEROSEARCH_PROMPT_STYLE")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _BEHAVIOUR_ENV:
        monkeypatch.delenv(name, raising=False)
    from zerosearch.common.settings import get_common_settings

    get_common_settings.cache_clear()
    yield
    get_common_settings.cache_clear()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis for the whole session: ``REDIS_URL`` when set, else an embedded redis-server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from zerosearch.common.connection import EmbeddedRedis

    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def redis_conn(redis_url: str):  # type: ignore[no-untyped-def]
    """A connection to the session Redis, flushed before and after the test."""
    from zerosearch.common.connection import connect

    conn = connect(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The offline data (the repository's data/ or ZEROSEARCH_DATA_DIR); a clear failure when absent."""
    from zerosearch.common.settings import CommonSettings

    folder = CommonSettings().data_dir
    if folder is None or not (Path(folder) / "qa").is_dir():
        pytest.fail(
            "offline data not found: data/qa is missing from the checkout (or set ZEROSEARCH_DATA_DIR)"
        )
    return Path(folder)


@pytest.fixture(scope="session")
def corpus_path(data_dir: Path) -> Path:
    """The small Wikipedia passage corpus (9.7k passages)."""
    return data_dir / "corpus" / "wiki_mini.jsonl"


@pytest.fixture(scope="session")
def bundled_model_path() -> str:
    """The bundled SmolLM2-135M-Instruct as a cached HF folder (converted from GGUF once)."""
    from zerosearch.common.models import resolve_model

    return resolve_model("smollm2-135m")
