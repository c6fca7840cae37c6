"""The request guard: an ASGI middleware between the server and the app that no client input gets past.

Before the app sees a request it checks, in order, and answers in the error envelope (never a 5xx):

- the API key, when one is set, on every path but the probes ``/healthz`` and ``/readyz`` (so also
  ``/docs``, ``/openapi.json``, ``/metrics``, the compatibility routes and ``/mcp``), compared in constant
  time; the carriers are those of :mod:`zerosearch.simulator.deps` → 401;
- the size of the headers → 431, and of the body (``Content-Length`` first, then as it streams) → 413;
- the nesting depth of a JSON body → 422 (a deeply nested body would exhaust the JSON parser's recursion).

Then it runs the app, cancels it when the client disconnects before the answer starts (so the requests it
queued are dropped before generation, counted as ``disconnected``), records requests and latency per route in the metrics, and turns an unexpected
exception into a 500 envelope itself, so the server keeps the keep-alive connection (Starlette's
last-resort handler re-raises, and the server then drops the connection).

    app.add_middleware(RequestGuard, settings=settings, metrics=metrics)
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from zerosearch.simulator.metrics import SimulatorMetrics
from zerosearch.simulator.settings import SimulatorSettings

__all__ = ["OPEN_PATHS", "RequestGuard", "json_depth"]

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
"""The probes: answered without a key (liveness and readiness checks of compose and k8s send none)."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(raw: bytes, limit: int) -> int:
    """The bracket nesting depth of a JSON text, counting no further than ``limit + 1``.

    Brackets inside strings do not count. Strings and everything but brackets are removed at C speed
    first, so a normal body leaves a few hundred brackets to walk; no recursion anywhere.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return limit  # cannot be deeper than its number of opening brackets
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def _given_key(scope: dict[str, Any]) -> str | None:
    """The key the request carries: Bearer, X-API-Key, X-Subscription-Token or ``?api_key=``."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    for name in ("x-api-key", "x-subscription-token"):
        if headers.get(name):
            return headers[name]
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("api_key")
    return values[0] if values else None


class RequestGuard:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it must see disconnects and never re-raise)."""

    def __init__(self, app: Any, *, settings: SimulatorSettings, metrics: SimulatorMetrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self._key = key.encode() if key else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Check, then serve; every refusal and every unexpected failure is an envelope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500, "started": False}

        async def observed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
            await send(message)

        try:
            refusal = self._refuse_headers(scope)
            body = b""
            if refusal is None:
                body, refusal = await self._read_body(scope, receive)
            if refusal is not None:
                await self._answer(observed_send, *refusal)
            else:
                await self._serve(scope, body, receive, observed_send, status)
        except _Disconnected:
            status["code"] = 499  # nginx's "client closed request": nobody reads it
            self.metrics.disconnected.inc()
        except Exception as exc:  # the last resort: answer in the envelope, keep the connection
            if status["started"]:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await self._answer(
                observed_send, 500, f"internal error ({type(exc).__name__})", "ServerError", None
            )
        finally:
            route = scope.get("route")
            endpoint = f"{scope.get('method')} {getattr(route, 'path', 'unmatched')}"
            self.metrics.requests.labels(endpoint=endpoint, status=str(status["code"])).inc()
            self.metrics.latency.labels(endpoint=endpoint).observe(time.perf_counter() - start)

    async def _serve(
        self, scope: dict[str, Any], body: bytes, receive: Any, send: Any, status: dict[str, Any]
    ) -> None:
        """Run the app; if the client goes away before the answer starts, cancel it (its queued engine
        requests are then dropped before generation)."""
        app = asyncio.ensure_future(self.app(scope, _replay(body, receive), send))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait({app, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not app.done() and not status["started"]:
            app.cancel()
            await asyncio.gather(app, return_exceptions=True)
            raise _Disconnected
        await app  # finished, or streaming on after its start (it sees the disconnect itself)

    def _refuse_headers(self, scope: dict[str, Any]) -> tuple[int, str, str, str | None] | None:
        limit = self.settings.max_header_bytes
        size = sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        if size > limit:
            return 431, f"headers: {size} bytes, at most {limit} allowed", "ValidationError", "headers"
        if self._key is not None and scope["path"] not in OPEN_PATHS:
            given = _given_key(scope)
            # compare_digest: the time taken must not tell how much of a guessed key was right.
            if not given or not secrets.compare_digest(given.encode(), self._key):
                message = "missing or wrong API key: send Authorization: Bearer <key> or X-API-Key: <key>"
                return 401, message, "AuthenticationError", "api_key"
        return None

    async def _read_body(
        self, scope: dict[str, Any], receive: Any
    ) -> tuple[bytes, tuple[int, str, str, str | None] | None]:
        limit = self.settings.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return b"", (
                413,
                f"body: {int(declared)} bytes, at most {limit} allowed",
                "ValidationError",
                "body",
            )
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return b"", (
                    413,
                    f"body: more than {limit} bytes, at most {limit} allowed",
                    "ValidationError",
                    "body",
                )
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        depth_limit = self.settings.max_json_depth
        if body and json_depth(body, depth_limit) > depth_limit:
            message = f"body: JSON nested deeper than {depth_limit} levels, at most {depth_limit} allowed"
            return body, (422, message, "ValidationError", "body")
        return body, None

    @staticmethod
    async def _answer(send: Any, status: int, message: str, type_: str, param: str | None) -> None:
        payload = json.dumps({"error": {"message": message, "type": type_, "param": param, "code": status}})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload.encode()})


class _Disconnected(Exception):
    """The client went away before its answer was ready."""


async def _disconnected(receive: Any) -> None:
    """Return once the server reports the client gone (the body was already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that gives the app the body already read, then the server's own (disconnects)."""
    delivered = False

    async def replayed() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
