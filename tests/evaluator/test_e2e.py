"""End to end with the real parts: the bundled SmolLM2-135M, the shared agent loop and BM25 over the corpus.

Settings are shrunk only to keep CI time small: 2 questions per dataset, 1 search turn, 24 new tokens.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zerosearch.common.connection import free_port
from zerosearch.common.errors import SearchBackendError
from zerosearch.common.metrics import qa_scores
from zerosearch.common.template import extract_answer
from zerosearch.evaluator.config import EvalConfig
from zerosearch.evaluator.runner import main, open_backend

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def bm25(corpus_path: Path):  # type: ignore[no-untyped-def]
    """The real BM25 backend from the factory, checked as a run would check it."""
    return open_backend(EvalConfig(search="bm25", corpus=corpus_path))


@pytest.mark.slow  # ~35 s on the shared 2-core machine
def test_agent_eval_on_two_datasets_with_bundled_model(tmp_path, bundled_policy, bm25, data_dir) -> None:
    config = EvalConfig(
        datasets=["nq", "bamboogle"], limit=2, max_turns=1, max_new_tokens=24, batch_size=2,
        data_dir=data_dir, out=tmp_path / "run",
    )  # fmt: skip
    results = main(config, policy=bundled_policy, backend=bm25)

    assert set(results["datasets"]) == {"nq", "bamboogle"}
    lines = [json.loads(x) for x in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 4
    for record in lines:
        # Scores are recomputed from the real generation: the answer is the model's own last <answer>.
        model_text = record["trajectory"]
        assert record["answer"] == extract_answer(model_text) or record["answer"] is None
        expected = qa_scores(record["answer"], record["golden_answers"])
        assert (record["em"], record["cover_em"]) == (expected.em, expected.cover_em)
        assert record["turns"] >= 1 and model_text
    for name in ("nq", "bamboogle"):
        recs = [r for r in lines if r["dataset"] == name]
        summary = results["datasets"][name]
        assert summary["n"] == 2
        assert summary["em"] == pytest.approx(100 * sum(r["em"] for r in recs) / 2)
        assert summary["searches_per_question"] == sum(r["searches"] for r in recs) / 2
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk["macro"] == results["macro"] and on_disk["run"]["model"] == "smollm2-135m"
    assert (tmp_path / "run" / "results.md").is_file() and (tmp_path / "run" / "results.png").is_file()


def test_bamboogle_with_limit_scores_every_question_asked_for(tmp_path, bundled_policy, data_dir) -> None:
    # 5 questions in batches of 2: the short last batch is scored (the reference code dropped it).
    config = EvalConfig(datasets=["bamboogle"], method="direct", limit=5, batch_size=2, max_new_tokens=8,
                        data_dir=data_dir, out=tmp_path / "b")  # fmt: skip
    results = main(config, policy=bundled_policy)
    assert results["datasets"]["bamboogle"]["n"] == 5
    assert len((tmp_path / "b" / "predictions.jsonl").read_text().splitlines()) == 5


def test_rag_searches_once_per_question(tmp_path, bundled_policy, bm25, data_dir) -> None:
    config = EvalConfig(datasets=["nq"], method="rag", limit=2, max_new_tokens=8, data_dir=data_dir,
                        out=tmp_path / "r")  # fmt: skip
    results = main(config, policy=bundled_policy, backend=bm25)
    assert results["datasets"]["nq"]["searches_per_question"] == 1.0
    assert results["datasets"]["nq"]["failed_searches"] == 0


def test_unreachable_search_backend_fails_before_any_work(tmp_path) -> None:
    port = free_port()  # nobody listens there
    config = EvalConfig(datasets=["nq"], limit=1, search="simulator", search_url=f"http://127.0.0.1:{port}",
                        out=tmp_path / "o")  # fmt: skip
    with pytest.raises(SearchBackendError, match=f"unreachable at http://127.0.0.1:{port}"):
        main(config)
    assert not (tmp_path / "o").exists()


def test_eval_run_command_end_to_end(tmp_path, data_dir) -> None:
    from typer.testing import CliRunner

    from zerosearch.cli import app

    args = ["eval", "run", "--datasets", "popqa", "--method", "direct", "--limit", "1", "--max-new-tokens", "4",
            "--cpu-threads", "1", "--data-dir", str(data_dir), "--out", str(tmp_path / "cli")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "popqa" in result.output and "macro" in result.output  # the summary table
    assert json.loads((tmp_path / "cli" / "results.json").read_text())["datasets"]["popqa"]["n"] == 1
