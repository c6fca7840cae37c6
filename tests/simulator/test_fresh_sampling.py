"""Every unseeded search is a fresh sample (the paper samples each simulator call anew): no dedup within a
batch, no cache, no replayed random stream; seeded calls and ``cache: true`` calls are cached."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from zerosearch.simulator.engines.base import GenerationRequest
from zerosearch.simulator.engines.transformers import TransformersEngine
from zerosearch.simulator.prompts import Mode, build_prompt
from zerosearch.simulator.settings import SimulatorSettings

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def fresh_url(make_url: Callable[..., Any], redis_url: str) -> Iterator[str]:
    """A cached app whose documents are long enough to differ between samples."""
    with make_url(redis_url=redis_url, tokens_per_document=32, max_new_tokens=32) as url:
        yield url


def test_identical_unseeded_requests_in_a_batch_are_sampled_fresh(fresh_url: str, redis_conn: Any) -> None:
    body = {"requests": [{"q": "who wrote moby dick", "k": 1, "mode": "useful"}] * 8}
    for _ in range(2):  # the second batch is not served from a cache either
        response = httpx.post(f"{fresh_url}/search", json=body, timeout=300)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert not any(r["cached"] for r in results)
        assert len({r["formatted"] for r in results}) > 1, results[0]["formatted"]
    assert redis_conn.dbsize() == 0  # nothing unseeded was stored


def test_seeded_and_cache_requests_are_cached(fresh_url: str, redis_conn: Any) -> None:
    for extra in ({"seed": 11}, {"cache": True}):
        body = {"requests": [{"q": "capital of peru", "k": 1, "mode": "useful", **extra}] * 3}
        first = httpx.post(f"{fresh_url}/search", json=body, timeout=300).json()["results"]
        again = httpx.post(f"{fresh_url}/search", json=body, timeout=300).json()["results"]
        assert len({r["formatted"] for r in first}) == 1  # identical cacheable calls: one generation
        assert all(r["cached"] for r in again) and again[0]["documents"] == first[0]["documents"]


def test_no_replayed_stream_even_when_the_process_rng_is_reseeded(loaded_model: tuple[Any, Any]) -> None:
    model, tokenizer = loaded_model
    engine = TransformersEngine(SimulatorSettings(threads=None), model=model, tokenizer=tokenizer)
    prompt = build_prompt("who wrote moby dick", Mode.USEFUL, k=1)

    async def run() -> list[str]:
        await engine.start()
        try:
            texts = []
            for seed in (None, None, 5, 5):
                random.seed(0)  # e.g. a trainer's set_seed in the same process
                [out] = await engine.generate([GenerationRequest(prompt, max_new_tokens=24, seed=seed)])
                texts.append(out.text)
            return texts
        finally:
            await engine.aclose()

    fresh_a, fresh_b, seeded_a, seeded_b = asyncio.run(run())
    assert fresh_a != fresh_b
    assert seeded_a == seeded_b
