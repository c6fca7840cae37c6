"""The real client libraries of SerpAPI, Tavily and Brave, pointed at the simulator by base URL alone.

Each round trip goes through the client's own request building and response parsing (Brave's client
validates our answer against its pydantic models), our API-key guard (set here, so each client's own key
header is exercised) and a scripted engine. Serper has no Python client whose URL can change: its shape
is driven with plain HTTP in test_compat_shapes.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.simulator.fake_engine import ScriptedEngine, serve_scripted

KEY = "client-key-123"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, ScriptedEngine]]:
    with serve_scripted(api_key=KEY) as pair:
        yield pair


def _last_prompt(engine: ScriptedEngine) -> str:
    return engine.requests[-1].prompt.messages[-1]["content"]


def test_serpapi_client_round_trip(served: tuple[str, ScriptedEngine]) -> None:
    import serpapi

    url, engine = served
    client = serpapi.Client(api_key=KEY)
    client.BASE_DOMAIN = f"{url}/serpapi"  # the client's base URL (a class attribute, set per instance)
    results = client.search(q="who wrote moby dick", engine="google", num=3, question="Who wrote Moby-Dick?",
                            answer="Herman Melville", mode="useful")  # fmt: skip
    organic = results["organic_results"]
    assert [r["position"] for r in organic] == [1, 2, 3]
    assert all(r["title"] and r["link"].startswith("https://") and r["snippet"] for r in organic)
    assert results["search_metadata"]["mode"] == "useful"
    assert "Herman Melville" in _last_prompt(engine)

    wrong = serpapi.Client(api_key="wrong")
    wrong.BASE_DOMAIN = f"{url}/serpapi"
    with pytest.raises(serpapi.HTTPError, match="401"):
        wrong.search(q="x", engine="google")


def test_tavily_client_round_trip(served: tuple[str, ScriptedEngine]) -> None:
    from tavily import TavilyClient
    from tavily.errors import InvalidAPIKeyError

    url, _ = served
    client = TavilyClient(api_key=KEY, api_base_url=f"{url}/tavily")
    answer = client.search("capital of peru", max_results=2, noise=1.0)  # extras go in the body
    assert answer["query"] == "capital of peru"
    assert [r["score"] for r in answer["results"]] == [1.0, 0.5]
    assert all({"title", "url", "content", "score"} <= set(r) for r in answer["results"])
    assert answer["zerosearch"]["mode"] == "noisy"

    with pytest.raises(InvalidAPIKeyError):
        TavilyClient(api_key="wrong", api_base_url=f"{url}/tavily").search("capital of peru")


def test_brave_client_round_trip(served: tuple[str, ScriptedEngine]) -> None:
    from brave_search_python_client import BraveSearch, BraveSearchAPIError, WebSearchRequest

    url, _ = served

    def client(key: str) -> BraveSearch:
        brave = BraveSearch(api_key=key)
        brave._base_url = f"{url}/brave/res/v1/"  # no public setting: the client's one base-URL attribute
        brave._headers["X-ZeroSearch-Mode"] = "noisy"  # the client refuses unknown parameters: use a header
        return brave

    answer = asyncio.run(client(KEY).web(WebSearchRequest(q="tallest mountain", count=4)))
    assert answer.web is not None and len(answer.web.results) == 4
    assert answer.query is not None and answer.query.original == "tallest mountain"
    assert all(r.title and r.url and r.description for r in answer.web.results)

    with pytest.raises(BraveSearchAPIError):
        asyncio.run(client("wrong").web(WebSearchRequest(q="tallest mountain")))
