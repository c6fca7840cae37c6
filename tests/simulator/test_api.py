"""The simulator over real HTTP with the bundled model and a real Redis: every endpoint and behaviour."""

from __future__ import annotations

import math

import httpx
import pytest

EXPECTED_KEYS = {
    "query", "mode", "noise", "k", "documents", "formatted", "cached", "model", "latency_ms", "warning",
}  # fmt: skip


def _search(client: httpx.Client, **params: object) -> dict:
    response = client.get("/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_health_ready_docs(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["engine"] == "transformers"
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search", "/retrieve", "/healthz", "/readyz", "/metrics"} <= set(paths)


def test_noise_zero_is_useful_and_one_is_noisy(client: httpx.Client) -> None:
    useful = _search(client, q="who wrote moby dick", noise=0, k=2, question="Who wrote Moby-Dick?",
                     answer="Herman Melville", seed=3)  # fmt: skip
    noisy = _search(client, q="who wrote moby dick", noise=1, k=2, seed=3)
    for body in (useful, noisy):
        assert set(body) == EXPECTED_KEYS
        assert body["k"] == 2 and body["cached"] is False and body["latency_ms"] > 0
        assert len(body["documents"]) <= 2
        assert [d["rank"] for d in body["documents"]] == list(range(1, len(body["documents"]) + 1))
        # Never padded: fewer documents than k always comes with a warning.
        assert (body["warning"] is not None) == (len(body["documents"]) < 2)
        for doc in body["documents"]:
            assert f"Doc {doc['rank']}: " in body["formatted"] and doc["text"] in body["formatted"]
    assert useful["mode"] == "useful" and noisy["mode"] == "noisy"
    assert useful["query"] == "who wrote moby dick" and useful["model"]


def test_forced_mode_overrides_noise(client: httpx.Client) -> None:
    assert _search(client, q="capital of france", noise=1, mode="useful", k=1)["mode"] == "useful"


def test_seed_reproduces_sampling_without_the_cache(client: httpx.Client, redis_conn) -> None:  # type: ignore[no-untyped-def]
    params = {"q": "tallest mountain on earth", "noise": 0.5, "k": 2, "seed": 1234}
    first = _search(client, **params)
    redis_conn.flushdb()  # the second call must be generated again, not served from the cache
    second = _search(client, **params)
    assert first["cached"] is False and second["cached"] is False
    assert (first["mode"], first["documents"]) == (second["mode"], second["documents"])


def test_repeated_seeded_call_is_a_cache_hit(client: httpx.Client) -> None:
    params = {"q": "largest ocean", "k": 1, "seed": 7}
    first = _search(client, **params)
    second = _search(client, **params)
    assert first["cached"] is False and second["cached"] is True
    assert second["documents"] == first["documents"] and second["mode"] == first["mode"]
    assert "zerosearch_simulator_cache_hits_total 1.0" in client.get("/metrics").text


def test_noisy_rate_within_binomial_tolerance(client: httpx.Client) -> None:
    # Unseeded calls of one query that ask for the cache: the draw is random per call, and identical
    # cacheable calls of a batch share one generation per mode, so 300 draws cost two generations. This
    # also shows the draw happens before the cache lookup (cached answers keep the requested noisy rate).
    n, p = 300, 0.3
    body = {"requests": [{"q": "speed of light", "noise": p, "k": 1, "cache": True} for _ in range(n)]}
    response = client.post("/search", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert response.json()["count"] == n and len(results) == n
    noisy = sum(r["mode"] == "noisy" for r in results)
    sd = math.sqrt(n * p * (1 - p))
    assert abs(noisy - n * p) <= 4.5 * sd, f"{noisy} noisy of {n} at p={p}"


def test_post_batch_keeps_request_order(client: httpx.Client) -> None:
    items = [
        {"q": "first query about rivers", "mode": "useful", "k": 1, "seed": 1},
        {"q": "second query about lakes", "mode": "noisy", "k": 1, "seed": 2},
        {"q": "third query about seas", "noise": 0.0, "k": 1},
    ]
    body = client.post("/search", json={"requests": items}).json()
    assert body["count"] == 3
    assert [r["query"] for r in body["results"]] == [i["q"] for i in items]
    assert [r["mode"] for r in body["results"]] == ["useful", "noisy", "useful"]


@pytest.mark.parametrize("scores", [True, False])
def test_retrieve_has_the_search_r1_shape(client: httpx.Client, scores: bool) -> None:
    body = {"queries": ["moby dick author", "capital of peru"], "topk": 1, "return_scores": scores}
    response = client.post("/retrieve", json=body)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert len(result) == 2
    for hits in result:
        assert len(hits) <= 1
        for hit in hits:
            doc = hit["document"] if scores else hit
            assert set(doc) == {"id", "contents"} and doc["contents"].startswith('"')
            if scores:
                assert set(hit) == {"document", "score"} and hit["score"] == 1.0


def test_metrics_count_requests_tokens_and_batches(client: httpx.Client) -> None:
    _search(client, q="metrics probe query", k=1, mode="useful")
    text = client.get("/metrics").text
    for name in (
        "zerosearch_simulator_requests_total", "zerosearch_simulator_request_latency_seconds_bucket",
        "zerosearch_simulator_batch_size_bucket", "zerosearch_simulator_queue_depth",
        "zerosearch_simulator_tokens_generated_total", "zerosearch_simulator_cache_misses_total",
    ):  # fmt: skip
        assert name in text
    assert 'endpoint="GET /search",status="200"' in text
