"""Faults: overload → only 200/503 with Retry-After, engine errors → 5xx JSON then service resumes,
Redis down → answers with the cache bypassed and counted, and uses Redis again once it is back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from zerosearch.simulator.engines.transformers import TransformersEngine


class FlakyEngine(TransformersEngine):
    """The real engine, failing its first batch: a fault injected at the engine seam."""

    failures_left = 1

    def generate_batch(self, requests):  # type: ignore[no-untyped-def]
        if FlakyEngine.failures_left > 0:
            FlakyEngine.failures_left -= 1
            raise RuntimeError("simulated CUDA out of memory")
        return super().generate_batch(requests)


def test_overload_burst_gets_only_200_and_503_then_normal_service(make_url: Callable[..., Any]) -> None:
    # A queue of 2 and batches of 1 (no cache): a burst of 16 must overflow, and nothing may hang or 500.
    with make_url(
        max_queue=2, max_request_batch=2, max_batch_size=1, batch_wait_ms=0, tokens_per_document=2
    ) as url:

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, timeout=300) as http:
                calls = [http.get("/search", params={"q": f"burst query {i}", "k": 1}) for i in range(16)]
                return list(await asyncio.gather(*calls))

        responses = asyncio.run(burst())
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {200, 503}, statuses
        assert 200 in statuses and 503 in statuses, statuses
        for r in responses:
            if r.status_code == 503:
                assert int(r.headers["Retry-After"]) >= 1
                assert r.json()["error"]["type"] == "EngineOverloadedError"
        after = httpx.get(f"{url}/search", params={"q": "after the burst", "k": 1}, timeout=300)
        assert after.status_code == 200 and after.json()["mode"] == "useful"
        assert "zerosearch_simulator_overloads_total" in httpx.get(f"{url}/metrics").text


def test_engine_error_is_5xx_json_and_the_next_request_is_served(make_url: Callable[..., Any]) -> None:
    FlakyEngine.failures_left = 1
    with make_url(engine_cls=FlakyEngine, tokens_per_document=2) as url:
        failed = httpx.get(f"{url}/search", params={"q": "engine fault", "k": 1}, timeout=300)
        assert failed.status_code == 500
        error = failed.json()["error"]
        assert error["type"] == "EngineError" and "RuntimeError" in error["message"]
        ok = httpx.get(f"{url}/search", params={"q": "engine fault", "k": 1}, timeout=300)
        assert ok.status_code == 200, ok.text
        assert httpx.get(f"{url}/readyz").status_code == 200


def test_redis_down_still_answers_with_cache_bypassed(make_url: Callable[..., Any]) -> None:
    from tests.simulator.conftest import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with make_url(redis_url=dead, tokens_per_document=2) as url:
        for _ in range(2):
            response = httpx.get(
                f"{url}/search", params={"q": "redis is down", "k": 1, "seed": 5}, timeout=300
            )
            assert response.status_code == 200, response.text
            assert response.json()["cached"] is False
        metrics = httpx.get(f"{url}/metrics").text
        line = next(
            x for x in metrics.splitlines() if x.startswith("zerosearch_simulator_cache_errors_total")
        )
        assert float(line.split()[-1]) >= 4  # two lookups and two stores bypassed


def _counter(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    return float(next(x for x in text.splitlines() if x.startswith(name)).split()[-1])


def test_redis_outage_is_bridged_and_the_cache_comes_back(make_url: Callable[..., Any]) -> None:
    from zerosearch.common.connection import EmbeddedRedis

    redis = EmbeddedRedis().start()
    try:
        with make_url(redis_url=redis.url, tokens_per_document=2) as url:

            def search(seed: int) -> dict[str, Any]:
                params = {"q": "redis outage", "k": 1, "seed": seed}
                response = httpx.get(f"{url}/search", params=params, timeout=300)
                assert response.status_code == 200, response.text
                return response.json()

            search(1)
            assert search(1)["cached"] is True  # Redis up: a repeat is a hit
            redis.stop()
            for _ in range(2):  # Redis down: still answered, generated again, bypass counted
                assert search(2)["cached"] is False
            assert _counter(url, "zerosearch_simulator_cache_errors_total") >= 4
            redis.start()  # the same port: the simulator's connection pool reconnects on its own
            search(3)
            assert search(3)["cached"] is True
    finally:
        redis.stop()
