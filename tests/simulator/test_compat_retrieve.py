"""Contract tests of the retrieval-server shapes: Search-R1, SkyRL and ReCall bodies on a scripted engine."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.simulator.fake_engine import ScriptedEngine, serve_scripted


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, ScriptedEngine]]:
    with serve_scripted() as pair:
        yield pair


@pytest.fixture
def http(served: tuple[str, ScriptedEngine]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0], timeout=30) as client:
        yield client


def _documents(hits: list[dict]) -> list[dict]:
    return [h.get("document", h) for h in hits]


@pytest.mark.parametrize(
    ("body", "queries", "k", "scored"),
    [
        ({"queries": ["a", "b"], "topk": 2, "return_scores": True}, 2, 2, True),  # Search-R1
        ({"query": "who wrote moby dick", "topk": 3, "return_scores": True}, 1, 3, True),  # SkyRL
        ({"query": ["a", "b", "c"], "top_k": 1}, 3, 1, False),
        ({"queries": ["a"], "top_n": 4, "return_score": True}, 1, 4, True),
        ({"queries": ["a"]}, 1, 5, False),  # defaults: topk 5, no scores
    ],
)
def test_retrieve_accepts_every_spelling(
    http: httpx.Client, body: dict, queries: int, k: int, scored: bool
) -> None:
    response = http.post("/retrieve", json=body)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert len(result) == queries and all(len(hits) == k for hits in result)
    for hits in result:
        assert all(("score" in h) == scored for h in hits)
        if scored:
            assert [h["score"] for h in hits] == [1.0 / r for r in range(1, k + 1)]
        for doc in _documents(hits):
            assert set(doc) == {"id", "contents"} and doc["contents"].startswith('"Scripted page')


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "   "}, "query[0]"),
        ({"query": "a", "top_k": 0}, "top_k"),
        ({"queries": ["a"], "top_n": 21}, "top_n"),
        ({"query": []}, "query"),
        ({"topk": 3}, "queries"),
    ],
)
def test_retrieve_variants_name_the_field_they_got_wrong(http: httpx.Client, body: dict, field: str) -> None:
    response = http.post("/retrieve", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == field


def test_recall_search_shape(http: httpx.Client) -> None:
    plain = http.post("/recall/search", json={"query": ["a", "b"], "top_n": 2})
    assert plain.status_code == 200, plain.text
    assert [len(hits) for hits in plain.json()] == [2, 2]
    assert set(plain.json()[0][0]) == {"id", "contents"}
    scored = http.post("/recall/search", json={"query": "a", "top_n": 3, "return_score": True}).json()
    assert [h["score"] for h in scored[0]] == [1.0, 0.5, 1.0 / 3]
    assert set(scored[0][0]) == {"document", "score"}
    bad = http.post("/recall/search", json={"query": ["a"], "top_n": 0})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "top_n"


def test_our_batch_search_still_owns_post_search(http: httpx.Client) -> None:
    # The ReCall body is refused on our POST /search (it would collide), with a message naming the field.
    response = http.post("/search", json={"query": ["a"], "top_n": 2})
    assert response.status_code == 422
    ok = http.post("/search", json={"requests": [{"q": "a", "k": 1}]})
    assert ok.status_code == 200 and ok.json()["count"] == 1
