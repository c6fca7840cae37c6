"""The one retry policy of every outgoing HTTP call: search backends, the judge, OpenAI-compatible policies.

Built on tenacity. What it means, everywhere:

- ``retries`` is the number of attempts in total, the first included (1 = no retry);
- retried: transport errors and timeouts (``httpx.TransportError``, ``TimeoutError``) and answers with
  HTTP 429 or 5xx; never another 4xx (it will not heal) and never any other exception (a bug must surface);
- the wait doubles from ``backoff_s``; an answer's ``Retry-After`` (seconds or an HTTP date, RFC 9110
  §10.2.3) replaces it when it fits the budget ``max_wait_s``; a longer one ends the retries at once, so
  the caller's error or fallback comes now instead of a stall.

After the last attempt the last exception is re-raised; :func:`upstream_error` turns it into ours.

    policy = RetryPolicy(retries=3, backoff_s=0.5)
    response = policy.call(lambda: client.post("/completions", json=body).raise_for_status())
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import tenacity

from zerosearch.common.defaults import RETRY_MAX_WAIT_S, SEARCH_BACKOFF_S, SEARCH_RETRIES
from zerosearch.common.errors import ServerError

__all__ = [
    "UPSTREAM_ERRORS",
    "RetryPolicy",
    "is_retryable",
    "retry_after_s",
    "retryable_status",
    "upstream_error",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

UPSTREAM_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, TimeoutError)
"""What an HTTP call to another service may raise that is not our bug (any status, transport, timeout)."""


def retryable_status(status: int) -> bool:
    """429 (rate limited) and 5xx heal with time; every other status does not."""
    return status == 429 or status >= 500


def is_retryable(exc: BaseException) -> bool:
    """Transport errors, timeouts and 429/5xx answers (as ``httpx.HTTPStatusError``); nothing else."""
    if isinstance(exc, httpx.HTTPStatusError):
        return retryable_status(exc.response.status_code)
    return isinstance(exc, httpx.TransportError | TimeoutError)


def retry_after_s(exc: BaseException | None) -> float | None:
    """Seconds an answer's ``Retry-After`` header asks to wait (delta-seconds or HTTP date), else None."""
    if not isinstance(exc, httpx.HTTPStatusError):
        return None
    value = exc.response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unparseable: the exponential back-off applies
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def upstream_error(
    exc: BaseException,
    what: str,
    error_cls: type[ServerError],
    *,
    url: str | None = None,
    attempts: int = 1,
) -> ServerError:
    """Our error (of ``error_cls``) for a failed call to ``what`` (at ``url``): the status, the timeout or
    the transport error, and how many attempts were made."""
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    at = f" at {url}" if url else ""
    if isinstance(exc, httpx.HTTPStatusError):
        body = exc.response.text[:200].strip()
        detail = f"{at} answered HTTP {exc.response.status_code}{tried}" + (f": {body}" if body else "")
    elif isinstance(exc, TimeoutError | httpx.TimeoutException):
        detail = f"{at} timed out{tried}"
    elif isinstance(exc, httpx.TransportError):
        detail = f" unreachable{at}{tried}: {type(exc).__name__}: {exc}"
    else:
        detail = f"{at} failed{tried}: {type(exc).__name__}: {exc}"
    return error_cls(f"{what}{detail}")


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts, first back-off and the longest single wait; ``call``/``acall`` run a function under it."""

    retries: int = SEARCH_RETRIES
    backoff_s: float = SEARCH_BACKOFF_S
    max_wait_s: float = RETRY_MAX_WAIT_S
    what: str = "request"

    def __post_init__(self) -> None:
        if self.retries < 1:
            raise ValueError(f"retries counts attempts and must be ≥ 1, got {self.retries}")
        if self.backoff_s < 0 or self.max_wait_s < 0:
            raise ValueError("backoff_s and max_wait_s must be ≥ 0")

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = retry_after_s(exc)
        if asked is not None:
            return asked
        return min(self.backoff_s * 2 ** (state.attempt_number - 1), self.max_wait_s)

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self.retries:
            return True
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = retry_after_s(exc)
        return asked is not None and asked > self.max_wait_s  # beyond the budget: give up now

    def _log(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "%s failed (attempt %d/%d): %s; retrying in %.1fs",
            self.what,
            state.attempt_number,
            self.retries,
            f"HTTP {exc.response.status_code}"
            if isinstance(exc, httpx.HTTPStatusError)
            else f"{type(exc).__name__}: {exc}",
            wait,
        )

    def _options(self) -> dict:
        return {
            "stop": self._stop,
            "wait": self._wait,
            "retry": tenacity.retry_if_exception(is_retryable),
            "before_sleep": self._log,
            "reraise": True,
        }

    def retrying(self) -> tenacity.Retrying:
        """A tenacity ``Retrying`` with this policy (``for attempt in policy.retrying(): with attempt: ...``)."""
        return tenacity.Retrying(**self._options())

    def async_retrying(self) -> tenacity.AsyncRetrying:
        """The async twin of :meth:`retrying` (``async for attempt in ...``)."""
        return tenacity.AsyncRetrying(**self._options())

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` under the policy; the last exception propagates when every attempt failed."""
        return self.retrying()(fn)

    async def acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()`` under the policy; the last exception propagates when every attempt failed."""
        async for attempt in self.async_retrying():
            with attempt:
                return await fn()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
