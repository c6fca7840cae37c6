"""Faults: overload → only 200/503 with Retry-After, engine errors → 5xx JSON then service resumes,
Redis down → answers with the cache bypassed and counted, API key → 401 everywhere but /healthz."""

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


def test_api_key_guards_every_endpoint_but_healthz(make_url: Callable[..., Any]) -> None:
    with make_url(api_key="s3cret", tokens_per_document=2) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        for method, path, body in [
            ("GET", "/search?q=x", None), ("POST", "/search", {"requests": [{"q": "x"}]}),
            ("POST", "/retrieve", {"queries": ["x"]}), ("GET", "/readyz", None), ("GET", "/metrics", None),
        ]:  # fmt: skip
            response = httpx.request(method, f"{url}{path}", json=body)
            assert response.status_code == 401, (path, response.text)
            assert response.json()["error"]["type"] == "AuthenticationError"
            wrong = httpx.request(method, f"{url}{path}", json=body, headers={"X-API-Key": "nope"})
            assert wrong.status_code == 401
        assert httpx.get(f"{url}/readyz", headers={"X-API-Key": "s3cret"}).status_code == 200
        ok = httpx.get(
            f"{url}/search", params={"q": "with a key", "k": 1},
            headers={"Authorization": "Bearer s3cret"}, timeout=300,
        )  # fmt: skip
        assert ok.status_code == 200, ok.text
