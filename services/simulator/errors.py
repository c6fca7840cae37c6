"""Every error answer of the simulator, in one place: exception → status + one JSON envelope.

    {"error": {"message": "...", "type": "ClientError", "param": "noise", "code": 422}}

Our exceptions map by their ``status_code``; request-validation errors become 422 naming the field and
its allowed values; Starlette's 404/405 keep their status; anything unexpected becomes a 500 whose
message names the exception type only (no server paths or tracebacks leak).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from zerosearch.common.defaults import MAX_QUERY_CHARS, MAX_TOP_K
from zerosearch.common.errors import ClientError, EngineOverloadedError, ServerError, ZeroSearchError

__all__ = ["AuthenticationError", "EngineNotReadyError", "error_response", "register_error_handlers"]

log = logging.getLogger(__name__)

# What each field accepts, said once so that every 422 can name the allowed values.
ALLOWED = {
    "q": f"a non-blank string of 1 to {MAX_QUERY_CHARS} characters",
    "queries": f"a non-empty list of non-blank strings of at most {MAX_QUERY_CHARS} characters",
    "question": f"a string of at most {MAX_QUERY_CHARS} characters",
    "answer": f"a string of at most {MAX_QUERY_CHARS} characters",
    "noise": "a number in [0, 1]",
    "k": f"an integer in [1, {MAX_TOP_K}]",
    "topk": f"an integer in [1, {MAX_TOP_K}]",
    "top_k": f"an integer in [1, {MAX_TOP_K}]",
    "top_n": f"an integer in [1, {MAX_TOP_K}]",
    "query": f"a non-blank string (or a non-empty list of them) of at most {MAX_QUERY_CHARS} characters",
    "seed": "an integer in [0, 2^63-1]",
    "mode": "'useful' or 'noisy'",
    "requests": "a non-empty list of search objects",
    "return_scores": "true or false",
    "body": "a JSON object",
}


class AuthenticationError(ClientError):
    """Missing or wrong API key."""

    status_code = 401


class EngineNotReadyError(ServerError):
    """The engine is not loaded or not answering (``/readyz`` → 503)."""

    status_code = 503


def error_response(status: int, message: str, type_: str, param: str | None = None) -> JSONResponse:
    """The one error envelope."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": status}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(status_code=status, content=body, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    """``("query", "noise")`` → ``noise``; ``("body", "requests", 0, "k")`` → ``requests[0].k``."""
    # Only the first element says where the field came from: a field may itself be named "query".
    parts = list(loc[1:] if loc and loc[0] in ("query", "body", "path", "header") else loc) or ["body"]
    out = str(parts[0])
    for part in parts[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    """One sentence for the first error, naming the field and what it accepts."""
    first = exc.errors()[0]
    field = _field(tuple(first.get("loc", ())))
    leaf = next((str(p) for p in reversed(first.get("loc", ())) if isinstance(p, str)), "body")
    reason = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "json_invalid":
        return "body", "malformed JSON body: send a JSON object"
    allowed = ALLOWED.get(leaf)
    extra = f" (allowed: {allowed})" if allowed else ""
    more = len(exc.errors()) - 1
    tail = f"; {more} more error(s)" if more else ""
    return field, f"{field}: {reason}{extra}{tail}"


def register_error_handlers(app: FastAPI) -> None:
    """Install every handler on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        field, message = _validation_message(exc)
        return error_response(422, message, "ValidationError", field)

    @app.exception_handler(ZeroSearchError)
    async def _ours(_: Request, exc: ZeroSearchError) -> JSONResponse:
        if exc.status_code >= 500:
            log.warning("%s: %s", type(exc).__name__, exc.message)
        response = error_response(exc.status_code, exc.message, type(exc).__name__, exc.param)
        if isinstance(exc, EngineOverloadedError):
            response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):  # FastAPI's catch-all
            message = "body: could not be parsed; send a JSON object encoded in UTF-8"
            return error_response(400, message, "ValidationError", "body")
        return error_response(exc.status_code, str(exc.detail), "HTTPError")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, f"internal error ({type(exc).__name__})", "ServerError")
