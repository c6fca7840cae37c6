"""The runner with fakes at the Policy and SearchBackend seams: batching, scoring, progress, report files."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.utils.fakes import EchoBackend, ScriptedPolicy
from zerosearch.common.errors import DatasetError, ModelNotFoundError
from zerosearch.evaluator.config import EvalConfig
from zerosearch.evaluator.runner import EvalProgress, main


def _qa_file(path: Path, golds: list[list[str]]) -> Path:
    lines = [
        json.dumps({"id": f"q{i}", "question": f"question {i}?", "golden_answers": g})
        for i, g in enumerate(golds)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_run_scores_every_question_in_short_last_batch(tmp_path, scripted_policy) -> None:
    qa = _qa_file(
        tmp_path / "cities.jsonl", [["Paris, France"], ["paris"], ["Lyon"], ["the Paris France"], ["x"]]
    )
    backend = EchoBackend(docs=5)
    seen: list[EvalProgress] = []
    config = EvalConfig(datasets=[str(qa)], batch_size=2, out=tmp_path / "out", max_turns=2)
    results = main(config, policy=scripted_policy, backend=backend, on_progress=seen.append)

    summary = results["datasets"]["cities"]  # a file is named by its stem
    assert summary["n"] == 5  # 2 + 2 + 1: the short last batch is scored too
    assert summary["em"] == pytest.approx(40.0)  # "Paris, France" equals q0 and q3 after normalisation
    assert summary["cover_em"] == pytest.approx(60.0)  # ... and contains q1's "paris"
    assert summary["searches_per_question"] == 1.0
    assert summary["answer_rate"] == 100.0 and summary["answer_missing_rate"] == 0.0
    assert results["macro"]["em"] == pytest.approx(40.0)
    assert [p.done for p in seen] == [2, 4, 5] and seen[-1].total == 5
    assert seen[-1].running_em == pytest.approx(40.0)
    # Evaluation never leaks the question or the gold answer to the search engine.
    assert backend.requests and all(r.answer is None and r.question is None for r in backend.requests)

    out = tmp_path / "out"
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in lines] == ["q0", "q1", "q2", "q3", "q4"]
    for key in ("dataset", "id", "question", "golden_answers", "answer", "em", "cover_em", "f1", "searches",
                "trajectory"):  # fmt: skip
        assert key in lines[0]
    assert lines[0]["answer"] == "Paris, France" and lines[0]["searches"] == 1
    assert json.loads((out / "results.json").read_text())["datasets"]["cities"]["n"] == 5
    assert "| Strict EM | 40.00 | 40.00 |" in (out / "results.md").read_text()
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failed_searches_are_counted_not_fatal(tmp_path, scripted_policy) -> None:
    qa = _qa_file(tmp_path / "d.jsonl", [["Paris"], ["Rome"]])
    config = EvalConfig(datasets=[str(qa)], out=tmp_path / "o", max_turns=1)
    results = main(
        config, policy=scripted_policy, backend=EchoBackend(fail=httpx.ConnectError("engine down"))
    )
    assert results["datasets"]["d"]["failed_searches"] == 2
    assert results["datasets"]["d"]["n"] == 2


def test_direct_method_needs_no_backend(tmp_path, tokenizer) -> None:

    qa = _qa_file(tmp_path / "d.jsonl", [["Paris"], ["Rome"]])
    policy = ScriptedPolicy(tokenizer, lambda _turn, _ctx: "I think it is Paris.")  # never a complete answer
    results = main(EvalConfig(datasets=[str(qa)], method="direct", out=tmp_path / "o"), policy=policy)
    summary = results["datasets"]["d"]
    assert summary["answer_rate"] == 0.0 and summary["answer_missing_rate"] == 100.0
    assert summary["em"] == 0.0 and summary["searches_per_question"] == 0.0
    assert summary["invalid_action_rate"] == 100.0
    assert results["run"]["search"] is None


def test_bad_dataset_fails_before_any_output(tmp_path, scripted_policy) -> None:
    config = EvalConfig(datasets=["nq", "no-such-benchmark"], out=tmp_path / "o")
    with pytest.raises(DatasetError, match=r"unknown dataset 'no-such-benchmark'.*bamboogle"):
        main(config, policy=scripted_policy, backend=EchoBackend(docs=5))
    assert not (tmp_path / "o").exists()


def test_missing_model_path_fails_before_backend_and_output(tmp_path) -> None:
    config = EvalConfig(model=str(tmp_path / "no-such-checkpoint"), datasets=["bamboogle"], limit=1,
                        out=tmp_path / "o")  # fmt: skip
    backend = EchoBackend(docs=5)
    with pytest.raises(ModelNotFoundError, match="model path not found"):
        main(config, backend=backend)
    assert not backend.requests and not (tmp_path / "o").exists()
