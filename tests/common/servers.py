"""Real local HTTP servers for backend tests: a JSON route table served by ThreadingHTTPServer.

The stand-in simulator implements the simulator's ``POST /search`` / ``GET /readyz`` contract with
documents from a real BM25 index, so the loop is tested over real HTTP while the simulator service is
written elsewhere.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from zerosearch.common.errors import EngineError
from zerosearch.simulator.engines.base import Engine, Generation, GenerationRequest
from zerosearch.simulator.settings import SimulatorSettings

__all__ = ["Call", "FakeEngine", "JSONServer", "StandInSimulator", "serve"]


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


class StandInSimulator:
    """The simulator's HTTP contract over a real BM25 index; ``fail_batch`` makes batch POSTs fail."""

    def __init__(self, bm25: Any) -> None:
        self.bm25 = bm25
        self.fail_batch = False
        self.requests: list[dict[str, Any]] = []

    def _result(self, body: dict[str, Any]) -> dict[str, Any]:
        from zerosearch.common.documents import format_documents

        self.requests.append(body)
        [docs] = self.bm25.retrieve([body["q"]], int(body.get("k", 5)))
        mode = body.get("mode") or ("noisy" if float(body.get("noise", 0)) >= 1.0 else "useful")
        return {
            "query": body["q"],
            "mode": mode,
            "noise": body.get("noise", 0.0),
            "documents": [d.model_dump() for d in docs],
            "formatted": format_documents(docs),
            "cached": False,
            "model": "bm25-stand-in",
            "latency_ms": 1.0,
            "k": body.get("k", 5),
            "warning": None,
        }

    def search(self, call: Call) -> tuple[int, Any]:
        """POST /search: a batch of requests → results in order."""
        batch = call.body["requests"]
        if self.fail_batch and len(batch) > 1:
            return 500, {"detail": "batch failed"}
        results = [self._result(r) for r in batch]
        return 200, {"results": results, "count": len(results)}

    def routes(self) -> dict[tuple[str, str], Route]:
        """The route table to :func:`serve`."""
        return {("POST", "/search"): self.search, ("GET", "/readyz"): lambda call: (200, {"status": "ready"})}


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
