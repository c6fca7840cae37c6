"""Fixtures of the agent-loop tests: one model and one BM25 index a session, a live simulator a test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.common.servers import LiveSimulator, bm25_writer, serve_simulator
from zerosearch.common.trajectory import QAItem

# Idle OpenMP threads of torch spin by default; when the 2 cores are shared (other test processes, an
# in-process simulator thread) that made one 24-token generate 6-8x slower (measured 83-111 s vs 14 s).
# Must be set before torch loads its OpenMP runtime, i.e. before any test module imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session")
def bm25_backend(corpus_path: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real BM25 backend over the shared corpus (index built once into a session temp cache)."""
    from zerosearch.common.search.bm25 import BM25Backend

    return BM25Backend(corpus_path, cache_dir=tmp_path_factory.mktemp("bm25-cache"), retries=1)


@pytest.fixture(scope="session")
def tokenizer(bundled_model_path: str):  # type: ignore[no-untyped-def]
    """The bundled model's tokenizer (fast: no weights)."""
    from zerosearch.common.models import load_tokenizer

    return load_tokenizer(bundled_model_path)


@pytest.fixture(scope="session")
def policy(bundled_model_path: str):  # type: ignore[no-untyped-def]
    """The bundled SmolLM2-135M behind the transformers policy, loaded once a session."""
    from zerosearch.common.policies.transformers import TransformersPolicy

    return TransformersPolicy.from_pretrained(bundled_model_path, device="cpu")


@pytest.fixture
def live_simulator(bm25_backend) -> Iterator[LiveSimulator]:  # type: ignore[no-untyped-def]
    """The real simulator app over HTTP; its fake engine writes documents from the real BM25 index."""
    with serve_simulator(bm25_writer(bm25_backend)) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def nq_items(data_dir: Path) -> list[QAItem]:
    """The first NQ questions of the shared data."""
    import json

    lines = (data_dir / "qa" / "nq.jsonl").read_text().splitlines()[:8]
    rows = [json.loads(line) for line in lines]
    return [
        QAItem(id=r["id"], question=r["question"], golden_answers=r["golden_answers"], dataset="nq")
        for r in rows
    ]
