"""No client input gets a 5xx or a dropped connection; auth guards every route but the probes.

The real app over real HTTP with a fake engine at the engine seam (generation is not what is tested
here, so the table stays fast). Each nasty input must get the expected 4xx in our error envelope, naming
the field, on a keep-alive connection the server keeps.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.common.servers import LiveSimulator, serve_simulator
from zerosearch.common.errors import ConfigError
from zerosearch.simulator.engines.base import GenerationRequest
from zerosearch.simulator.settings import get_simulator_settings

BATCH, BODY, HEADERS, DEPTH = 4, 64 * 1024, 8 * 1024, 16
MAX = 2**63 - 1


def _write(request: GenerationRequest) -> str:
    if "Query: boom" in request.prompt.messages[-1]["content"]:
        raise RuntimeError("a bug nobody caught")  # not an EngineError: the last-resort path
    return " (Title: T) A document of enough words to be kept.\nDoc 2: (Title: U) Another document of enough words."


@pytest.fixture(scope="module")
def sim() -> Iterator[LiveSimulator]:
    """Small limits so the table can reach each of them cheaply."""
    limits = {
        "max_request_batch": BATCH,
        "max_body_bytes": BODY,
        "max_header_bytes": HEADERS,
        "max_json_depth": DEPTH,
    }
    with serve_simulator(_write, **limits) as simulator:
        yield simulator


def _nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


Q = {"q": "x"}
# (id, method, path, request kwargs, expected status, expected param or None)
CASES: list[tuple[str, str, str, dict[str, Any], int, str | None]] = [
    ("no q", "GET", "/search", {"params": {}}, 422, "q"),
    ("empty q", "GET", "/search", {"params": {"q": ""}}, 422, "q"),
    ("blank q", "GET", "/search", {"params": {"q": " \t "}}, 422, "q"),
    ("long q", "GET", "/search", {"params": {"q": "x" * 1001}}, 422, "q"),
    ("k 0", "GET", "/search", {"params": {**Q, "k": 0}}, 422, "k"),
    ("k 21", "GET", "/search", {"params": {**Q, "k": 21}}, 422, "k"),
    ("k text", "GET", "/search", {"params": {**Q, "k": "five"}}, 422, "k"),
    ("k float", "GET", "/search", {"params": {**Q, "k": 1.5}}, 422, "k"),
    ("noise < 0", "GET", "/search", {"params": {**Q, "noise": -0.1}}, 422, "noise"),
    ("noise > 1", "GET", "/search", {"params": {**Q, "noise": 1.01}}, 422, "noise"),
    ("noise nan", "GET", "/search", {"params": {**Q, "noise": "nan"}}, 422, "noise"),
    ("noise inf", "GET", "/search", {"params": {**Q, "noise": "inf"}}, 422, "noise"),
    ("seed < 0", "GET", "/search", {"params": {**Q, "seed": -1}}, 422, "seed"),
    ("seed 2^63", "GET", "/search", {"params": {**Q, "seed": MAX + 1}}, 422, "seed"),
    ("seed 10^30", "GET", "/search", {"params": {**Q, "seed": 10**30}}, 422, "seed"),
    ("mode real", "GET", "/search", {"params": {**Q, "mode": "real"}}, 422, "mode"),
    ("unknown param", "GET", "/search", {"params": {**Q, "zzz": "1"}}, 422, "zzz"),
    ("long question", "GET", "/search", {"params": {**Q, "question": "x" * 1001}}, 422, "question"),
    ("NUL in q", "GET", "/search", {"params": {"q": "a\x00b"}}, 200, None),
    ("emoji and RTL q", "GET", "/search", {"params": {"q": "🔍 مرحبا \u202e"}}, 200, None),
    ("max seed", "GET", "/search", {"params": {**Q, "seed": MAX}}, 200, None),
    (
        "not JSON",
        "POST",
        "/search",
        {"content": b"{", "headers": {"content-type": "application/json"}},
        422,
        "body",
    ),
    ("JSON null", "POST", "/search", {"json": None}, 422, "body"),
    ("JSON list", "POST", "/search", {"json": []}, 422, "body"),
    ("no requests", "POST", "/search", {"json": {"requests": []}}, 422, "requests"),
    ("requests text", "POST", "/search", {"json": {"requests": "x"}}, 422, "requests"),
    ("request without q", "POST", "/search", {"json": {"requests": [{}]}}, 422, "requests[0].q"),
    ("q number", "POST", "/search", {"json": {"requests": [{"q": 5}]}}, 422, "requests[0].q"),
    ("batch too big", "POST", "/search", {"json": {"requests": [Q] * (BATCH + 1)}}, 422, "requests"),
    ("seed 2^64", "POST", "/search", {"json": {"requests": [{**Q, "seed": 2**64}]}}, 422, "requests[0].seed"),
    ("nested lists", "POST", "/search", {"content": _nested(20_000).encode()}, 422, "body"),
    (
        "nested objects",
        "POST",
        "/search",
        {"content": ('{"a":' * 200 + "1" + "}" * 200).encode()},
        422,
        "body",
    ),
    ("body too big", "POST", "/search", {"json": {"requests": [{"q": "x" * 900}] * 100}}, 413, "body"),
    (
        "text/plain",
        "POST",
        "/search",
        {"content": b'{"requests":[{"q":"x"}]}', "headers": {"content-type": "text/plain"}},
        422,
        "body",
    ),
    (
        "bad UTF-8",
        "POST",
        "/search",
        {"content": b'{"requests":[{"q":"\xff\xfe"}]}', "headers": {"content-type": "application/json"}},
        400,
        "body",
    ),
    ("extra field", "POST", "/search", {"json": {"requests": [Q], "extra": 1}}, 422, "extra"),
    (
        "noise text",
        "POST",
        "/search",
        {"json": {"requests": [{**Q, "noise": "NaN"}]}},
        422,
        "requests[0].noise",
    ),
    (
        "noise 1e400",
        "POST",
        "/search",
        {
            "content": b'{"requests":[{"q":"x","noise":1e400}]}',
            "headers": {"content-type": "application/json"},
        },
        422,
        "requests[0].noise",
    ),
    (
        "noise NaN literal",
        "POST",
        "/search",
        {"content": b'{"requests":[{"q":"x","noise":NaN}]}', "headers": {"content-type": "application/json"}},
        422,
        "requests[0].noise",
    ),
    ("brackets in strings", "POST", "/search", {"json": {"requests": [{"q": "[{" * 100}]}}, 200, None),
    ("seed + i overflows", "POST", "/retrieve", {"json": {"queries": ["a", "b"], "seed": MAX}}, 422, "seed"),
    ("last seed fits", "POST", "/retrieve", {"json": {"queries": ["a", "b"], "seed": MAX - 1}}, 200, None),
    ("no queries", "POST", "/retrieve", {"json": {"queries": []}}, 422, "queries"),
    ("blank query", "POST", "/retrieve", {"json": {"queries": ["  "]}}, 422, "queries[0]"),
    ("topk 0", "POST", "/retrieve", {"json": {"queries": ["a"], "topk": 0}}, 422, "topk"),
    ("too many queries", "POST", "/retrieve", {"json": {"queries": ["a"] * (BATCH + 1)}}, 422, "queries"),
    (
        "huge header",
        "GET",
        "/search",
        {"params": Q, "headers": {"x-junk": "y" * (HEADERS * 4)}},
        431,
        "headers",
    ),
    ("wrong method", "PUT", "/search", {}, 405, None),
    ("unknown path", "GET", "/nope", {}, 404, None),
]


@pytest.fixture(scope="module")
def http(sim: LiveSimulator) -> Iterator[httpx.Client]:
    """One keep-alive client for the whole table."""
    with httpx.Client(base_url=sim.url, timeout=60) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "param"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_nasty_input_gets_its_4xx_in_the_envelope(
    http: httpx.Client, method: str, path: str, kwargs: dict[str, Any], status: int, param: str | None
) -> None:
    response = http.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    if status >= 400:
        error = response.json()["error"]
        assert error["code"] == status and error["message"]
        if param is not None:
            assert error["param"] == param and param.split(".")[-1].split("[")[0] in error["message"], error
    if status != 413:  # an unread oversized body is the one case where the connection must close
        assert response.headers.get("connection") != "close"


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 40


def _raw_exchange(url: str, requests: list[bytes]) -> list[bytes]:
    """Send each request on ONE socket, reading each full answer before the next."""
    parsed = urlparse(url)
    answers = []
    with socket.create_connection((parsed.hostname, parsed.port), timeout=30) as sock:
        stream = sock.makefile("rb")
        for request in requests:
            sock.sendall(request)
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                byte = stream.read(1)
                assert byte, f"the server closed the connection; answers so far: {answers}"
                head += byte
            length = int(
                next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
            )
            answers.append(head + stream.read(length))
    return answers


def test_keep_alive_survives_a_500_and_every_4xx(sim: LiveSimulator) -> None:
    host = urlparse(sim.url).netloc.encode()
    boom = b"GET /search?q=boom HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"
    body = json.dumps({"queries": ["a", "b"], "seed": MAX}).encode()
    overflow = (
        b"POST /retrieve HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip
    fine = b"GET /search?q=fine HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"
    answers = _raw_exchange(sim.url, [boom, overflow, fine])
    assert [a.split(b" ")[1] for a in answers] == [b"500", b"422", b"200"]
    error = json.loads(answers[0].split(b"\r\n\r\n", 1)[1])["error"]
    assert error["type"] == "ServerError" and "RuntimeError" in error["message"]


def test_empty_api_key_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("", "   "):
        monkeypatch.setenv("ZEROSEARCH_API_KEY", value)
        with pytest.raises(ConfigError, match=r"api_key.*must not be empty"):
            get_simulator_settings()


def _concrete(path: str) -> str:
    return path.replace("{", "").replace("}", "")


def test_api_key_guards_every_route_but_the_probes() -> None:
    from tests.common.servers import FakeEngine
    from zerosearch.simulator.app import create_app
    from zerosearch.simulator.guard import OPEN_PATHS
    from zerosearch.simulator.local import serve_in_background
    from zerosearch.simulator.settings import SimulatorSettings

    settings = SimulatorSettings(api_key="s3cret", redis_url=None)
    app = create_app(settings, engine=FakeEngine(settings, _write))
    # Every documented operation, plus the undocumented routes (docs pages, the MCP endpoint).
    spec = app.openapi()["paths"]
    routes = [(m.upper(), _concrete(p)) for p, ops in spec.items() for m in ops]
    routes += [(m, r.path) for r in app.routes if getattr(r, "path", None) for m in sorted(r.methods or ())]
    paths = {p for _, p in routes}
    assert {"/docs", "/openapi.json", "/metrics", "/search", "/retrieve", "/healthz", "/readyz"} <= paths
    with serve_in_background(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        for method, path in sorted(set(routes)):
            if method == "HEAD":
                continue
            bare = http.request(method, path)
            if path in OPEN_PATHS:
                assert bare.status_code == 200, (method, path, bare.text)
                continue
            assert bare.status_code == 401, (method, path, bare.status_code)
            assert bare.json()["error"]["type"] == "AuthenticationError"
            wrong = http.request(method, path, headers={"X-API-Key": "s3cret-not"})
            assert wrong.status_code == 401, (method, path)
        for path in ("/docs", "/openapi.json", "/metrics"):
            assert http.get(path, headers={"Authorization": "Bearer s3cret"}).status_code == 200, path
        ok = http.get("/search", params={"q": "x", "k": 1}, headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200, ok.text


def test_every_deployment_probe_uses_an_open_route() -> None:
    import re
    from pathlib import Path

    from zerosearch.simulator.guard import OPEN_PATHS

    root = Path(__file__).resolve().parents[2]
    sources = {
        "docker-compose.yml": (root / "docker-compose.yml").read_text(),
        "k8s/40-simulator.yaml": (root / "k8s/40-simulator.yaml").read_text(),
        "services/simulator/Dockerfile": (root / "services/simulator/Dockerfile").read_text(),
    }
    probes = {
        (name, path)
        for name, text in sources.items()
        for match in re.findall(
            r"urlopen\('http://127\.0\.0\.1:8000(/[a-z]+)|httpGet: \{path: (/[a-z]+)", text
        )
        for path in match
        if path
    }
    assert {p for _, p in probes} >= {"/healthz", "/readyz"}, probes
    assert all(path in OPEN_PATHS for _, path in probes), probes  # a probe sends no key
