"""Request and response shapes of the web-search-API endpoints (SerpAPI, Serper, Tavily, Brave) over HTTP.

A scripted engine answers, so these run in milliseconds; one round trip uses the bundled model.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.simulator.fake_engine import ScriptedEngine, serve_scripted

KEY = "shape-key"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, ScriptedEngine]]:
    with serve_scripted(api_key=KEY, max_request_batch=4) as pair:
        yield pair


@pytest.fixture
def http(served: tuple[str, ScriptedEngine]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0], timeout=30) as client:
        yield client


def test_serper_single_and_batch_with_its_key_header(http: httpx.Client, served) -> None:  # type: ignore[no-untyped-def]
    one = http.post("/serper/search", json={"q": "largest ocean", "num": 2, "gl": "us"},
                    headers={"X-API-KEY": KEY})  # fmt: skip
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["searchParameters"]["q"] == "largest ocean"
    assert [r["position"] for r in body["organic"]] == [1, 2]
    assert set(body["organic"][0]) == {"title", "link", "snippet", "position"}
    many = http.post("/serper/search", json=[{"q": "a", "num": 1}, {"q": "b", "num": 3, "mode": "noisy"}],
                     headers={"X-API-KEY": KEY})  # fmt: skip
    assert [len(r["organic"]) for r in many.json()] == [1, 3]
    assert many.json()[1]["zerosearch"]["mode"] == "noisy"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/serpapi/search", {"params": {"q": "x"}}),
        ("POST", "/serper/search", {"json": {"q": "x"}}),
        ("POST", "/tavily/search", {"json": {"query": "x"}}),
        ("GET", "/brave/res/v1/web/search", {"params": {"q": "x"}}),
        ("POST", "/recall/search", {"json": {"query": "x"}}),
    ],
)
def test_every_shape_needs_the_key(http: httpx.Client, method: str, path: str, kwargs: dict) -> None:
    missing = http.request(method, path, **kwargs)
    assert missing.status_code == 401 and missing.json()["error"]["param"] == "api_key"
    wrong = http.request(method, path, headers={"Authorization": "Bearer nope"}, **kwargs)
    assert wrong.status_code == 401
    right = http.request(method, path, headers={"Authorization": f"Bearer {KEY}"}, **kwargs)
    assert right.status_code == 200, right.text


def test_each_client_key_carrier_is_accepted(http: httpx.Client) -> None:
    assert http.get("/serpapi/search", params={"q": "x", "api_key": KEY}).status_code == 200
    assert http.get("/brave/res/v1/web/search", params={"q": "x"},
                    headers={"X-Subscription-Token": KEY}).status_code == 200  # fmt: skip
    assert http.get("/serpapi/search", params={"q": "x", "api_key": "bad"}).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("GET", "/serpapi/search", {"params": {"q": "x", "num": 0}}, "num"),
        ("GET", "/serpapi/search", {"params": {"q": " "}}, "q"),
        ("POST", "/serper/search", {"json": {"q": "x", "noise": 2}}, "noise"),
        ("POST", "/tavily/search", {"json": {"query": "x", "max_results": 21}}, "max_results"),
        ("POST", "/tavily/search", {"json": {"max_results": 2}}, "query"),
        ("GET", "/brave/res/v1/web/search", {"params": {"q": "x", "mode": "loud"}}, "mode"),
        ("GET", "/brave/res/v1/web/search", {"params": {"q": "x"}, "headers": {"X-ZeroSearch-Noise": "7"}},
         "x-zerosearch-noise"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field(
    http: httpx.Client, method: str, path: str, kwargs: dict, field: str
) -> None:
    headers = {"Authorization": f"Bearer {KEY}", **kwargs.pop("headers", {})}
    response = http.request(method, path, headers=headers, **kwargs)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == field


def test_extras_as_params_or_headers_reach_the_engine(http: httpx.Client, served) -> None:  # type: ignore[no-untyped-def]
    _, engine = served
    auth = {"Authorization": f"Bearer {KEY}"}
    params = {"q": "moby dick author", "question": "Who wrote Moby-Dick?", "answer": "Herman Melville"}
    body = http.get("/serpapi/search", params={**params, "mode": "useful"}, headers=auth).json()
    assert body["search_metadata"]["mode"] == "useful"
    assert "Herman Melville" in engine.requests[-1].prompt.messages[-1]["content"]
    headers = {**auth, "X-ZeroSearch-Question": "Capital of Peru?", "X-ZeroSearch-Answer": "Lima",
               "X-ZeroSearch-Mode": "noisy"}  # fmt: skip
    tavily = http.post("/tavily/search", json={"query": "peru capital"}, headers=headers).json()
    assert tavily["zerosearch"]["mode"] == "noisy" and len(tavily["results"]) == 5
    # A parameter wins over the header of the same name.
    both = http.post("/tavily/search", json={"query": "peru capital", "mode": "useful"}, headers=headers)
    assert both.json()["zerosearch"]["mode"] == "useful"


@pytest.mark.model
def test_serpapi_shape_on_the_bundled_model(client: httpx.Client) -> None:
    response = client.get("/serpapi/search", params={"q": "who wrote moby dick", "num": 2, "mode": "useful"})
    assert response.status_code == 200, response.text
    organic = response.json()["organic_results"]
    assert len(organic) <= 2 and [r["position"] for r in organic] == list(range(1, len(organic) + 1))
    assert all(r["snippet"] for r in organic)
