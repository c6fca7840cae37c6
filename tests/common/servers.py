"""Real local HTTP servers for backend tests.

- ``serve(routes)``: a JSON route table served by ThreadingHTTPServer (for outside APIs we do not own).
- ``serve_simulator(write)``: the REAL simulator app (routes, validation, service, parser) served by
  uvicorn, with a :class:`FakeEngine` at the engine seam instead of a model; every HTTP request it receives
  is recorded. ``bm25_writer(bm25)`` makes the fake engine write documents from a real BM25 index.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from zerosearch.common.documents import format_documents
from zerosearch.common.errors import EngineError
from zerosearch.simulator.engines.base import Engine, Generation, GenerationRequest
from zerosearch.simulator.settings import SimulatorSettings

__all__ = ["Call", "FakeEngine", "JSONServer", "LiveSimulator", "bm25_writer", "serve", "serve_simulator"]


@dataclass
class Call:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


Route = Callable[[Call], tuple[int, Any]]


@dataclass
class JSONServer:
    """Routes ``(method, path)`` to a function returning (status, JSON); records every call."""

    routes: dict[tuple[str, str], Route]
    calls: list[Call] = field(default_factory=list)
    url: str = ""


def _handler(server: JSONServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            parsed = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            call = Call(
                method,
                parsed.path,
                {k: v[0] for k, v in parse_qs(parsed.query).items()},
                json.loads(raw) if raw else None,
                {k.lower(): v for k, v in self.headers.items()},
            )
            server.calls.append(call)
            route = server.routes.get((method, parsed.path))
            status, payload = route(call) if route else (404, {"detail": "not found"})
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


@contextmanager
def serve(routes: dict[tuple[str, str], Route]) -> Iterator[JSONServer]:
    """Serve ``routes`` on a free local port in a background thread for the ``with`` block."""
    state = JSONServer(routes)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


Writer = Callable[[GenerationRequest], "str | tuple[str, bool]"]


class FakeEngine(Engine):
    """A simulator engine at the engine seam: ``write(request)`` returns the text (and whether the token
    budget cut it); the real app, service, parser and cache run around it. ``fail_batches`` makes every
    engine batch of more than one request fail."""

    name = "fake"

    def __init__(self, settings: SimulatorSettings, write: Writer) -> None:
        super().__init__(settings)
        self.write = write
        self.fail_batches = False
        self.batches: list[list[GenerationRequest]] = []

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        """Record the batch, then write each request."""
        self.batches.append(list(requests))
        if self.fail_batches and len(requests) > 1:
            raise EngineError("fake engine: batch failed")
        outputs = []
        for request in requests:
            out = self.write(request)
            text, truncated = out if isinstance(out, tuple) else (out, False)
            outputs.append(Generation(text, 0, len(text.split()), truncated))
        return outputs

    async def check(self) -> None:
        """Always ready."""


def bm25_writer(bm25: Any) -> Writer:
    """A writer that answers the prompt's ``Query:`` with ``Write k ...`` documents from a real BM25 index,
    in the ``Doc i: (Title: ...) text`` shape a simulator writes (minus the prompt's pre-filled prefix)."""

    def write(request: GenerationRequest) -> str:
        asked = request.prompt.messages[-1]["content"]
        query = re.search(r"^Query: (.*)$", asked, re.MULTILINE)
        k = re.search(r"^Write (\d+) ", asked, re.MULTILINE)
        assert query and k, f"not a prompt-only simulation prompt: {asked!r}"
        [docs] = bm25.retrieve([query.group(1)], int(k.group(1)))
        return format_documents(docs).removeprefix(request.prompt.prefix)

    return write


class _Recorder:
    """ASGI middleware: record each HTTP request (method, path, query, JSON body, headers), then pass it on."""

    def __init__(self, app: Any, calls: list[Call]) -> None:
        self.app = app
        self.calls = calls

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, RecursionError):  # nasty bodies are the app's to refuse, not the recorder's
            body = raw
        self.calls.append(Call(scope["method"], scope["path"], query, body, headers))
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


@dataclass
class LiveSimulator:
    """A served simulator app: its URL, the calls it received and its fake engine."""

    url: str
    calls: list[Call]
    engine: FakeEngine

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every search item of every ``POST /search`` body, in arrival order."""
        return [
            item
            for c in self.calls
            if c.method == "POST" and c.path == "/search"
            for item in c.body["requests"]
        ]


@contextmanager
def serve_simulator(write: Writer, **settings: Any) -> Iterator[LiveSimulator]:
    """The real simulator app with a :class:`FakeEngine` writing ``write(request)``, on a free port."""
    from zerosearch.simulator.app import create_app
    from zerosearch.simulator.local import serve_in_background

    config = SimulatorSettings(**{"redis_url": None, **settings})
    engine = FakeEngine(config, write)
    app = create_app(config, engine=engine)
    calls: list[Call] = []
    app.add_middleware(_Recorder, calls=calls)
    with serve_in_background(app) as url:
        yield LiveSimulator(url, calls, engine)
