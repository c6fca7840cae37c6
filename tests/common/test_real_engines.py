"""Serper, Tavily and Brave backends against local stand-ins that check each request, and the engine cache.

The real services cannot be reached from here: each stand-in refuses a request whose method, path, key
header or body differs from the documented API, and answers in that API's shape. The cache runs on the
session's real Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.common.servers import Call, serve
from zerosearch.common.errors import ConfigError
from zerosearch.common.search import SearchRequest, make_backend
from zerosearch.common.search.engine_cache import CachedBackend, engine_cache_key

FAST = {"retries": 2, "backoff_s": 0.01, "timeout_s": 5.0}
KEY = "real-key-1"


def _serper(call: Call) -> tuple[int, Any]:
    if call.headers.get("x-api-key") != KEY:
        return 403, {"message": "bad key"}
    if set(call.body) - {"q", "num", "gl"} or not isinstance(call.body.get("num"), int):
        return 400, {"message": f"bad body {call.body}"}
    hits = [
        {"title": f"S{i}", "link": f"https://s/{i}", "snippet": f"serper {i}", "position": i}
        for i in (1, 2, 3)
    ]
    return 200, {"searchParameters": call.body, "organic": hits}


def _tavily(call: Call) -> tuple[int, Any]:
    if call.headers.get("authorization") != f"Bearer {KEY}":
        return 401, {"detail": {"error": "bad key"}}
    if call.body.get("search_depth") != "basic" or not isinstance(call.body.get("max_results"), int):
        return 400, {"detail": {"error": f"bad body {call.body}"}}
    hits = [
        {"title": f"T{i}", "url": f"https://t/{i}", "content": f"tavily {i}", "score": 0.9} for i in (1, 2, 3)
    ]
    return 200, {"query": call.body["query"], "results": hits, "response_time": 0.1}


def _brave(call: Call) -> tuple[int, Any]:
    if call.headers.get("x-subscription-token") != KEY or "json" not in call.headers.get("accept", ""):
        return 401, {"error": "bad token"}
    if not call.query.get("q") or not call.query.get("count", "").isdigit():
        return 422, {"error": f"bad params {call.query}"}
    hits = [{"title": f"B<strong>{i}</strong>", "url": f"https://b/{i}", "description": f"brave &amp; {i}"}
            for i in (1, 2, 3)]  # fmt: skip
    return 200, {"type": "search", "query": {"original": call.query["q"]}, "web": {"results": hits}}


STAND_INS: dict[str, tuple[str, str, Callable[[Call], tuple[int, Any]]]] = {
    "serper": ("POST", "/search", _serper),
    "tavily": ("POST", "/search", _tavily),
    "brave": ("GET", "/res/v1/web/search", _brave),
}
EXPECTED = {
    "serper": "Doc 1: (Title: S1) serper 1\nDoc 2: (Title: S2) serper 2",
    "tavily": "Doc 1: (Title: T1) tavily 1\nDoc 2: (Title: T2) tavily 2",
    "brave": "Doc 1: (Title: B1) brave & 1\nDoc 2: (Title: B2) brave & 2",
}


@pytest.mark.parametrize("name", sorted(STAND_INS))
def test_backend_speaks_the_engines_api(name: str) -> None:
    method, path, route = STAND_INS[name]
    with serve({(method, path): route}) as server:
        backend = make_backend(name, api_key=KEY, base_url=server.url, cache=False, **FAST)
        [result] = backend.search_batch([SearchRequest(query="moby dick", k=2)])
        assert result.failed is False, result.error
        assert result.formatted == EXPECTED[name] and result.mode == "real"
        wrong = make_backend(name, api_key="nope", base_url=server.url, cache=False, **FAST)
        [failed] = wrong.search_batch([SearchRequest(query="moby dick", k=2)])
        assert failed.failed is True and failed.attempts == 1  # a 4xx is not retried


@pytest.mark.parametrize(("name", "variable"), [("serper", "SERPER_API_KEY"), ("tavily", "TAVILY_API_KEY"),
                                                ("brave", "BRAVE_API_KEY")])  # fmt: skip
def test_missing_key_names_the_variable(name: str, variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ConfigError, match=variable):
        make_backend(name, cache=False)
    monkeypatch.setenv(variable, KEY)
    assert make_backend(name, cache=False).name == name


def test_second_identical_search_is_served_by_the_cache(redis_url: str, redis_conn: Any) -> None:
    with serve({("POST", "/search"): _serper}) as server:
        options = {"api_key": KEY, "base_url": server.url, "redis_url": redis_url, "cache_ttl_s": 600, **FAST}
        backend = make_backend("serper", **options)
        assert isinstance(backend, CachedBackend)
        [first] = backend.search_batch([SearchRequest(query="largest ocean", k=2)])
        [second] = backend.search_batch([SearchRequest(query="largest ocean", k=2)])
        assert len(server.calls) == 1 and second.documents == first.documents
        assert 0 < redis_conn.ttl(engine_cache_key("serper", "largest ocean", 2)) <= 600
        backend.search_batch([SearchRequest(query="largest ocean", k=3)])  # another k: another key
        assert len(server.calls) == 2
        # A second backend (another evaluation run) shares the cache: no call.
        make_backend("serper", **options).search_batch([SearchRequest(query="largest ocean", k=2)])
        assert len(server.calls) == 2
        make_backend("serper", **{**options, "cache": False}).search_batch(
            [SearchRequest(query="largest ocean")]
        )
        assert len(server.calls) == 3


def test_failures_are_not_cached_and_a_dead_redis_is_bypassed(redis_url: str, redis_conn: Any) -> None:
    with serve({("POST", "/search"): lambda call: (500, {"message": "down"})}) as server:
        backend = make_backend("tavily", api_key=KEY, base_url=server.url, redis_url=redis_url, **FAST)
        [failed] = backend.search_batch([SearchRequest(query="q1", k=2)])
        assert failed.failed and failed.attempts == 2
        assert redis_conn.get(engine_cache_key("tavily", "q1", 2)) is None
    with serve({("POST", "/search"): _tavily}) as server:
        dead = make_backend(
            "tavily", api_key=KEY, base_url=server.url, redis_url="redis://127.0.0.1:1/0", **FAST
        )
        [result] = dead.search_batch([SearchRequest(query="q1", k=2)])
        assert result.failed is False and result.formatted == EXPECTED["tavily"]


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("serpapi", "/serpapi"), ("serper", "/serper"), ("tavily", "/tavily"), ("brave", "/brave")],
)
def test_backend_round_trip_against_the_simulators_compatible_endpoint(name: str, prefix: str) -> None:
    from tests.simulator.fake_engine import serve_scripted

    with serve_scripted(api_key=KEY) as (url, _):
        backend = make_backend(name, api_key=KEY, base_url=f"{url}{prefix}", cache=False, **FAST)
        [result] = backend.search_batch([SearchRequest(query="who wrote moby dick", k=3)])
    assert result.failed is False, result.error
    assert [d.title for d in result.documents] == ["Scripted page 1", "Scripted page 2", "Scripted page 3"]


def test_evaluation_and_simulation_tuning_offer_the_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    from typing import get_args

    from zerosearch.evaluator.config import SearchName
    from zerosearch.tuning.collect import make_real_backend

    assert {"serper", "tavily", "brave"} <= set(get_args(SearchName))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("ZEROSEARCH_REDIS_URL", raising=False)
    for name, variable in (
        ("serper", "SERPER_API_KEY"),
        ("tavily", "TAVILY_API_KEY"),
        ("brave", "BRAVE_API_KEY"),
    ):
        monkeypatch.setenv(variable, KEY)
        assert make_real_backend(name, None, None).name == name
