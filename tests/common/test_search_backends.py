"""Search backends over real local servers: batching, per-request fallback, retries counted, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.common.servers import serve
from zerosearch.common.defaults import NO_INFORMATION
from zerosearch.common.errors import ConfigError, DatasetError, SearchBackendError
from zerosearch.common.search import make_backend, run_sync
from zerosearch.common.search.base import SearchRequest
from zerosearch.common.search.bm25 import BM25Backend
from zerosearch.common.search.retrieval import RetrievalBackend, parse_contents
from zerosearch.common.search.serpapi import SerpAPIBackend
from zerosearch.common.search.simulator import SimulatorBackend

FAST = {"retries": 2, "backoff_s": 0.01, "timeout_s": 5.0}  # shrunk so failure paths take milliseconds


# -- bm25 ----------------------------------------------------------------------------------------------
def test_bm25_finds_the_passage_and_batches_a_turn(bm25_backend) -> None:  # type: ignore[no-untyped-def]
    results = bm25_backend.search_batch(
        [SearchRequest(query="Evan Morris lobbyist Genentech", k=2), SearchRequest(query="the of a", k=3)]
    )
    assert results[0].documents[0].title == "Evan Morris" and len(results[0].documents) == 2
    assert results[0].formatted.startswith("Doc 1: (Title: Evan Morris)") and results[0].mode == "real"
    assert results[1].documents == [] and results[1].formatted == NO_INFORMATION and not results[1].failed


def test_bm25_index_is_cached_on_disk_and_reloaded(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    rows = [{"id": str(i), "title": f"T{i}", "text": f"passage number {i} about topic{i}"} for i in range(30)]
    corpus.write_text("\n".join(json.dumps(r) for r in rows))
    first = BM25Backend(corpus, cache_dir=tmp_path / "cache")
    stamp = (first.index_dir / "params.index.json").stat().st_mtime_ns
    second = BM25Backend(corpus, cache_dir=tmp_path / "cache")
    assert second.index_dir == first.index_dir
    assert (second.index_dir / "params.index.json").stat().st_mtime_ns == stamp  # loaded, not rebuilt
    [result] = second.search_batch([SearchRequest(query="topic7", k=1)])
    assert result.documents[0].title == "T7"


@pytest.mark.parametrize(
    ("line", "message"),
    [("{not json", "line 2: not valid JSON"), ('{"id": "x"}', "line 2: a corpus line must be an object")],
)
def test_bm25_malformed_corpus_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    corpus = tmp_path / "bad.jsonl"
    corpus.write_text('{"id": "1", "title": "t", "text": "ok"}\n' + line + "\n")
    with pytest.raises(DatasetError, match=message) as info:
        BM25Backend(corpus, cache_dir=tmp_path)
    assert str(corpus) in info.value.message


# -- simulator -----------------------------------------------------------------------------------------
def test_simulator_sends_one_batch_with_auth_and_own_fields(live_simulator) -> None:  # type: ignore[no-untyped-def]
    backend = SimulatorBackend(live_simulator.url, api_key="s3cret", **FAST)
    run_sync(backend.check())
    requests = [
        SearchRequest(query="Evan Morris", k=2, noise=0.0, question="q1", answer="a1", seed=1),
        SearchRequest(query="Genentech", k=1, noise=1.0, question="q2", answer="a2", seed=2),
    ]
    results = backend.search_batch(requests)
    [post] = [c for c in live_simulator.calls if c.method == "POST"]
    assert post.headers["authorization"] == "Bearer s3cret"
    assert [(r["q"], r["question"], r["answer"], r["seed"]) for r in post.body["requests"]] == [
        ("Evan Morris", "q1", "a1", 1),
        ("Genentech", "q2", "a2", 2),
    ]
    assert [r.mode for r in results] == ["useful", "noisy"] and [len(r.documents) for r in results] == [2, 1]
    # The documents went through the real parser: BM25's passages, as the simulator served them.
    assert results[0].formatted.startswith("Doc 1: (Title: ") and not any(r.failed for r in results)


def test_simulator_batch_failure_falls_back_per_request(live_simulator) -> None:  # type: ignore[no-untyped-def]
    live_simulator.engine.fail_batches = True
    results = SimulatorBackend(live_simulator.url, **FAST).search_batch(
        [SearchRequest(query="Evan Morris"), SearchRequest(query="Genentech")]
    )
    assert not any(r.failed for r in results) and all(r.documents for r in results)
    assert [len(c.body["requests"]) for c in live_simulator.calls] == [2, 1, 1]


def test_blank_query_fails_that_call_only(live_simulator) -> None:  # type: ignore[no-untyped-def]
    results = SimulatorBackend(live_simulator.url, **FAST).search_batch(
        [SearchRequest(query="   "), SearchRequest(query="Genentech")]
    )
    assert results[0].failed and "q" in (results[0].error or "")
    assert not results[1].failed and results[1].documents


def test_failing_server_retries_then_counts_the_fallback() -> None:
    with serve({("POST", "/search"): lambda call: (503, {"detail": "down"})}) as server:
        results = SimulatorBackend(server.url, **FAST).search_batch(
            [SearchRequest(query="a"), SearchRequest(query="b")]
        )
    assert all(r.failed and r.formatted == NO_INFORMATION and r.attempts == 2 for r in results)
    assert "503" in (results[0].error or "")
    assert len(server.calls) == 1 + 2 * 2  # one batch POST, then 2 attempts for each request


def test_unreachable_simulator_check_names_the_url() -> None:
    backend = SimulatorBackend("http://127.0.0.1:9", **FAST)
    with pytest.raises(SearchBackendError, match=r"http://127\.0\.0\.1:9"):
        run_sync(backend.check())


# -- retrieval and serpapi -----------------------------------------------------------------------------
def test_retrieval_speaks_search_r1(bm25_backend) -> None:  # type: ignore[no-untyped-def]
    def retrieve(call):  # type: ignore[no-untyped-def]
        found = bm25_backend.retrieve(call.body["queries"], call.body["topk"])
        result = [
            [{"document": {"id": "x", "contents": f'"{d.title}"\n{d.text}'}, "score": 1.0} for d in docs]
            for docs in found
        ]
        return 200, {"result": result}

    with serve({("POST", "/retrieve"): retrieve}) as server:
        backend = RetrievalBackend(server.url, **FAST)
        run_sync(backend.check())
        results = backend.search_batch(
            [SearchRequest(query="Evan Morris", k=2), SearchRequest(query="Genentech", k=1)]
        )
    assert results[0].documents[0].title == "Evan Morris" and [len(r.documents) for r in results] == [2, 1]
    assert server.calls[-1].body["topk"] == 2 and server.calls[-1].body["return_scores"] is True
    assert parse_contents('"Title"\nbody text') == ("Title", "body text") and parse_contents("x") == ("", "x")


def test_serpapi_against_a_local_server_in_serpapis_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    def search(call):  # type: ignore[no-untyped-def]
        hits = [{"position": i, "title": f"R{i}", "link": "https://x", "snippet": f"s{i}"} for i in (1, 2, 3)]
        return 200, {"search_metadata": {"status": "Success"}, "organic_results": hits}

    routes = {("GET", "/search.json"): search, ("GET", "/account.json"): lambda call: (200, {"plan": "x"})}
    monkeypatch.setenv("SERPAPI_API_KEY", "k123")
    with serve(routes) as server:
        backend = make_backend("serpapi", base_url=server.url, **FAST)
        run_sync(backend.check())
        [result] = backend.search_batch([SearchRequest(query="moby dick", k=2)])
    assert [d.title for d in result.documents] == [
        "R1",
        "R2",
    ] and result.formatted == "Doc 1: (Title: R1) s1\nDoc 2: (Title: R2) s2"
    assert server.calls[-1].query == {"engine": "google", "api_key": "k123", "q": "moby dick", "num": "2"}
    monkeypatch.delenv("SERPAPI_API_KEY")
    with pytest.raises(ConfigError, match="SERPAPI_API_KEY"):
        SerpAPIBackend()


# -- factory -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("google", {}, "unknown search backend 'google': use one of simulator, bm25, retrieval, serpapi"),
        ("simulator", {"url": "localhost:8000"}, "search option 'url'"),
        ("simulator", {"retries": 0}, "search option 'retries'"),
        ("bm25", {"corpus_path": "x"}, "unknown option 'corpus_path' for search backend 'bm25'; allowed: "),
        ("retrieval", {}, "search option 'url': Field required"),
    ],
)
def test_factory_validates_options(name: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_backend(name, **options)
    assert message in info.value.message


def test_factory_builds_each_backend(tmp_path: Path) -> None:
    corpus = tmp_path / "tiny.jsonl"
    corpus.write_text(json.dumps({"id": "1", "title": "T", "text": "a tiny corpus"}) + "\n")
    assert isinstance(make_backend("simulator"), SimulatorBackend)
    assert isinstance(make_backend("retrieval", url="http://h:1"), RetrievalBackend)
    assert isinstance(make_backend("BM25", corpus=corpus, cache_dir=tmp_path), BM25Backend)


def test_bm25_unknown_stemmer_is_a_config_error(tmp_path: Path) -> None:
    corpus = tmp_path / "tiny.jsonl"
    corpus.write_text(json.dumps({"id": "1", "title": "T", "text": "text"}) + "\n")
    with pytest.raises(ConfigError, match="unknown stemmer 'klingon'") as info:
        BM25Backend(corpus, cache_dir=tmp_path, stemmer="klingon")
    assert info.value.param == "stemmer"
