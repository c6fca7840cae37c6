"""Every bad input gets 422 with the error envelope naming the field and its allowed values."""

from __future__ import annotations

import httpx
import pytest


def _assert_422(response: httpx.Response, param: str, allowed: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == 422
    assert error["param"] == param, error
    assert allowed in error["message"], error["message"]


@pytest.mark.parametrize(
    ("params", "param", "allowed"),
    [
        ({"q": ""}, "q", "non-blank"),
        ({"q": "   "}, "q", "non-blank"),
        ({"q": "x" * 1001}, "q", "1 to 1000 characters"),
        ({}, "q", "non-blank"),
        ({"q": "a", "noise": "-0.1"}, "noise", "[0, 1]"),
        ({"q": "a", "noise": "1.5"}, "noise", "[0, 1]"),
        ({"q": "a", "noise": "abc"}, "noise", "[0, 1]"),
        ({"q": "a", "noise": "nan"}, "noise", "[0, 1]"),
        ({"q": "a", "k": "0"}, "k", "[1, 20]"),
        ({"q": "a", "k": "21"}, "k", "[1, 20]"),
        ({"q": "a", "mode": "random"}, "mode", "'useful' or 'noisy'"),
        ({"q": "a", "seed": "-1"}, "seed", "[0, 2^63-1]"),
    ],
)
def test_bad_get_search(sim_url: str, params: dict, param: str, allowed: str) -> None:
    _assert_422(httpx.get(f"{sim_url}/search", params=params), param, allowed)


def test_malformed_json_body(sim_url: str) -> None:
    for path in ("/search", "/retrieve"):
        response = httpx.post(
            f"{sim_url}{path}", content=b'{"requests": [', headers={"Content-Type": "application/json"}
        )
        _assert_422(response, "body", "malformed JSON")


@pytest.mark.parametrize(
    ("body", "param", "allowed"),
    [
        ({"requests": []}, "requests", "non-empty list"),
        ({"requests": [{"q": "a", "k": 99}]}, "requests[0].k", "[1, 20]"),
        ({"requests": [{"q": "a", "noise": 2}]}, "requests[0].noise", "[0, 1]"),
        ({"requests": [{"q": "a", "mode": "x"}]}, "requests[0].mode", "'useful' or 'noisy'"),
        ({"requests": [{"q": "a", "bogus": 1}]}, "requests[0].bogus", "Extra inputs"),
        ({"requests": [{"q": "a"}] * 401}, "requests", "at most 400"),
        ([1, 2], "body", "JSON object"),
    ],
)
def test_bad_post_search(sim_url: str, body: object, param: str, allowed: str) -> None:
    _assert_422(httpx.post(f"{sim_url}/search", json=body), param, allowed)


@pytest.mark.parametrize(
    ("body", "param", "allowed"),
    [
        ({"queries": []}, "queries", "non-empty list"),
        ({"queries": [" "]}, "queries[0]", "non-blank"),
        ({"queries": ["a"], "topk": 0}, "topk", "[1, 20]"),
        ({"queries": ["a"], "return_scores": "maybe"}, "return_scores", "true or false"),
    ],
)
def test_bad_retrieve(sim_url: str, body: object, param: str, allowed: str) -> None:
    _assert_422(httpx.post(f"{sim_url}/retrieve", json=body), param, allowed)


def test_unknown_path_uses_the_envelope(sim_url: str) -> None:
    response = httpx.get(f"{sim_url}/nope")
    assert response.status_code == 404 and response.json()["error"]["code"] == 404
