"""Deliberate load shedding and work that follows its caller, with the real bundled model.

- A burst beyond the latency budget gets only 200 and 503, every 503 at once (< 1 s) with a Retry-After
  from the drain time, the shed calls counted, and normal service right after.
- Requests whose client gave up are dropped from the queue: they are never generated.

The figures these tests measure are logged (``-o log_cli=true``) and recorded in docs/simulator.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.model

log = logging.getLogger(__name__)


def _metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    return float(next(x for x in text.splitlines() if x.startswith(name + " ")).split()[-1])


async def _timed_get(http: httpx.AsyncClient, params: dict[str, Any]) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = await http.get("/search", params=params)
    return response, time.perf_counter() - start


def test_burst_is_shed_at_once_with_retry_after_then_served(make_url: Callable[..., Any]) -> None:
    settings = {"latency_budget_s": 5.0, "max_batch_size": 2, "batch_wait_ms": 0, "tokens_per_document": 8}
    with make_url(**settings) as url:
        warm = httpx.get(f"{url}/search", params={"q": "warm up", "k": 1}, timeout=300)
        assert warm.status_code == 200  # the engine has measured its seconds a request

        async def burst() -> list[tuple[httpx.Response, float]]:
            async with httpx.AsyncClient(base_url=url, timeout=300) as http:
                calls = [_timed_get(http, {"q": f"burst query {i}", "k": 1}) for i in range(24)]
                return list(await asyncio.gather(*calls))

        answers = asyncio.run(burst())
        statuses = [r.status_code for r, _ in answers]
        assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses, statuses
        shed = [(r, s) for r, s in answers if r.status_code == 503]
        slowest_shed = max(s for _, s in shed)
        assert slowest_shed < 1.0, slowest_shed
        for response, _ in shed:
            assert response.json()["error"]["type"] == "EngineOverloadedError"
            assert int(response.headers["Retry-After"]) >= 1
        assert _metric(url, "zerosearch_simulator_shed_total") == len(shed)
        after = httpx.get(f"{url}/search", params={"q": "after the burst", "k": 1}, timeout=300)
        assert after.status_code == 200, after.text
        served = max(s for r, s in answers if r.status_code == 200)
        log.warning(
            "burst of 24: %d served (slowest %.2f s), %d shed (slowest 503 in %.3f s, Retry-After %s s), 5xx "
            "other than 503: %d",
            len(answers) - len(shed), served, len(shed), slowest_shed,
            sorted({r.headers["Retry-After"] for r, _ in shed}), sum(c >= 500 and c != 503 for c in statuses),
        )  # fmt: skip


def test_requests_whose_client_gave_up_are_never_generated(make_url: Callable[..., Any]) -> None:
    settings = {"max_batch_size": 1, "batch_wait_ms": 0, "tokens_per_document": 20, "max_new_tokens": 100}
    with make_url(**settings) as url:

        async def impatient(i: int) -> bool:
            async with httpx.AsyncClient(base_url=url, timeout=0.5) as http:  # closed at its timeout
                try:
                    await http.get("/search", params={"q": f"impatient {i}", "k": 1})
                except httpx.TimeoutException:
                    return True
                return False

        async def run() -> int:
            async with httpx.AsyncClient(base_url=url, timeout=300) as http:
                blocker = asyncio.ensure_future(http.get("/search", params={"q": "the long one", "k": 5}))
                await asyncio.sleep(0.2)
                gave_up = await asyncio.gather(*(impatient(i) for i in range(6)))
                assert all(gave_up), gave_up
                response = await blocker
                assert response.status_code == 200
            return len(gave_up)

        gave_up = asyncio.run(run())
        time.sleep(1.0)  # let the batcher reach the abandoned requests
        assert _metric(url, "zerosearch_simulator_disconnected_total") == gave_up
        assert _metric(url, "zerosearch_simulator_batch_size_count") == 1  # only the blocker was generated
