"""The one retry policy, driven through httpx.MockTransport (httpx's own seam): what is retried, what never.

Retried: transport errors, timeouts, 429 and 5xx (a Retry-After inside the budget is honoured). Never: any
other 4xx, and any exception that is not an upstream error (a bug surfaces at once, it is not swallowed).
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable

import httpx
import pytest

from zerosearch.common.defaults import NO_INFORMATION
from zerosearch.common.errors import EngineError, SearchBackendError
from zerosearch.common.policies.openai import OpenAIPolicy
from zerosearch.common.retry import RetryPolicy, retry_after_s
from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult
from zerosearch.common.search.simulator import SimulatorBackend

FAST = RetryPolicy(retries=3, backoff_s=0.01, max_wait_s=2.0, what="test call")

Handler = Callable[[httpx.Request], httpx.Response]


def _scripted(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A MockTransport handler that plays ``answers`` in order (the last one repeats) and records calls."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, calls


def _get(policy: RetryPolicy, handler: Handler) -> httpx.Response:
    with httpx.Client(transport=httpx.MockTransport(handler), base_url="http://upstream") as client:
        return policy.call(lambda: client.get("/x").raise_for_status())


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_4xx_is_never_retried(status: int) -> None:
    handler, calls = _scripted(httpx.Response(status, json={"detail": "no"}))
    with pytest.raises(httpx.HTTPStatusError) as info:
        _get(FAST, handler)
    assert info.value.response.status_code == status and len(calls) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_429_and_5xx_are_retried_until_an_answer(status: int) -> None:
    handler, calls = _scripted(httpx.Response(status), httpx.Response(status), httpx.Response(200, json={}))
    assert _get(FAST, handler).status_code == 200 and len(calls) == 3


def test_transport_errors_and_timeouts_are_retried_then_reraised() -> None:
    handler, calls = _scripted(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"))
    with pytest.raises(httpx.ReadTimeout):
        _get(FAST, handler)
    assert len(calls) == FAST.retries


def test_a_bug_is_raised_at_once_not_retried_or_swallowed() -> None:
    handler, calls = _scripted(ValueError("a bug in our code"))
    with pytest.raises(ValueError, match="a bug in our code"):
        _get(FAST, handler)
    assert len(calls) == 1


def test_503_retry_after_is_honoured() -> None:
    busy = httpx.Response(503, headers={"Retry-After": "1"}, json={"detail": "overloaded"})
    handler, calls = _scripted(busy, httpx.Response(200, json={"ok": True}))
    start = time.perf_counter()
    assert _get(FAST, handler).json() == {"ok": True}
    waited = time.perf_counter() - start
    assert len(calls) == 2 and waited >= 0.95  # the header's second, not the 0.01 s back-off


def test_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    handler, calls = _scripted(httpx.Response(503, headers={"Retry-After": "120"}))
    start = time.perf_counter()
    with pytest.raises(httpx.HTTPStatusError):
        _get(FAST, handler)
    assert len(calls) == 1 and time.perf_counter() - start < 1.0


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    request = httpx.Request("GET", "http://upstream/x")
    response = httpx.Response(429, headers={"Retry-After": when}, request=request)
    error = httpx.HTTPStatusError("busy", request=request, response=response)
    assert 25 <= (retry_after_s(error) or 0) <= 30
    garbled = httpx.Response(429, headers={"Retry-After": "soon"}, request=request)
    assert retry_after_s(httpx.HTTPStatusError("busy", request=request, response=garbled)) is None


def test_retries_counts_attempts_and_must_be_positive() -> None:
    with pytest.raises(ValueError, match="retries counts attempts"):
        RetryPolicy(retries=0)
    handler, calls = _scripted(httpx.Response(503))
    with pytest.raises(httpx.HTTPStatusError):
        _get(RetryPolicy(retries=1, backoff_s=0.0), handler)
    assert len(calls) == 1


def test_async_policy_retries_the_same_way() -> None:
    handler, calls = _scripted(httpx.Response(502), httpx.Response(200, json={}))

    async def run() -> int:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://u") as client:
            response = await FAST.acall(lambda: _raise_for_status(client.get("/x")))
            return response.status_code

    assert asyncio.run(run()) == 200 and len(calls) == 2


async def _raise_for_status(pending) -> httpx.Response:  # type: ignore[no-untyped-def]
    return (await pending).raise_for_status()


# -- the clients that use it ---------------------------------------------------------------------------
def _openai(handler: Handler, retries: int = 3) -> OpenAIPolicy:
    # The tokenizer is only used by generate(); _post is the HTTP part under test.
    return OpenAIPolicy(
        "m",
        None,  # type: ignore[arg-type]
        base_url="http://llm/v1",
        retries=retries,
        backoff_s=0.01,
        transport=httpx.MockTransport(handler),
    )


def test_openai_policy_4xx_is_one_call_and_an_engine_error() -> None:
    handler, calls = _scripted(httpx.Response(400, json={"error": "max_tokens too large"}))
    with pytest.raises(EngineError, match=r"answered HTTP 400: .*max_tokens too large"):
        _openai(handler)._post({"prompt": "x"})
    assert len(calls) == 1


def test_openai_policy_honours_retry_after_then_answers() -> None:
    busy = httpx.Response(503, headers={"Retry-After": "1"})
    handler, calls = _scripted(busy, httpx.Response(200, json={"choices": []}))
    start = time.perf_counter()
    assert _openai(handler)._post({"prompt": "x"}) == {"choices": []}
    assert len(calls) == 2 and time.perf_counter() - start >= 0.95


def test_openai_policy_does_not_swallow_a_value_error() -> None:
    handler, calls = _scripted(ValueError("bug"))
    with pytest.raises(ValueError, match="bug"):
        _openai(handler)._post({"prompt": "x"})
    assert len(calls) == 1


def test_simulator_backend_4xx_falls_back_once_5xx_retries() -> None:
    handler, calls = _scripted(httpx.Response(422, json={"detail": "q too long"}))
    backend = SimulatorBackend(
        "http://sim", retries=3, backoff_s=0.01, transport=httpx.MockTransport(handler)
    )
    [result] = backend.search_batch([SearchRequest(query="q")])
    assert result.failed and result.formatted == NO_INFORMATION and "HTTP 422" in (result.error or "")
    assert result.attempts == 1 and len(calls) == 1 + 1  # the batch POST, then one per-request attempt

    handler, calls = _scripted(httpx.Response(503))
    backend = SimulatorBackend(
        "http://sim", retries=3, backoff_s=0.01, transport=httpx.MockTransport(handler)
    )
    [result] = backend.search_batch([SearchRequest(query="q")])
    assert result.failed and result.attempts == 3 and len(calls) == 1 + 3


def test_simulator_backend_malformed_answer_is_a_counted_backend_error() -> None:
    handler, _ = _scripted(httpx.Response(200, text="<html>proxy error</html>"))
    backend = SimulatorBackend(
        "http://sim", retries=2, backoff_s=0.01, transport=httpx.MockTransport(handler)
    )
    [result] = backend.search_batch([SearchRequest(query="q")])
    assert result.failed and "not JSON" in (result.error or "")


class _Broken(SearchBackend):
    """A backend whose attempt raises what it is given (the SearchBackend interface is the seam)."""

    name = "broken"

    def __init__(self, error: Exception) -> None:
        super().__init__(retries=3, backoff_s=0.0)
        self.error, self.calls = error, 0

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        self.calls += 1
        raise self.error


def test_search_bug_propagates_instead_of_no_information() -> None:
    backend = _Broken(TypeError("'NoneType' object is not subscriptable"))
    with pytest.raises(TypeError):
        backend.search_batch([SearchRequest(query="q")])
    assert backend.calls == 1


def test_search_backend_error_falls_back_without_retry() -> None:
    backend = _Broken(SearchBackendError("serpapi error: Invalid API key"))
    [result] = backend.search_batch([SearchRequest(query="q")])
    assert result.failed and result.error == "serpapi error: Invalid API key" and backend.calls == 1
