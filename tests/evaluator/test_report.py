"""The output folder: complete runs only, stale files from an earlier run removed, user files kept."""

from __future__ import annotations

import json
from pathlib import Path

from zerosearch.evaluator.report import RunReport, render_markdown
from zerosearch.evaluator.scoring import macro_average, summarize_dataset


def _record(dataset: str, em: float, answer: str | None = "x") -> dict:
    return {"dataset": dataset, "id": "1", "answer": answer, "em": em, "cover_em": em, "f1": em, "searches": 1,
            "failed_searches": 0, "turns": 2, "invalid_actions": 1, "truncated": False}  # fmt: skip


def _results(records: dict[str, list[dict]]) -> dict:
    per = {name: summarize_dataset(recs) for name, recs in records.items()}
    return {"datasets": per, "macro": macro_average(per), "run": {"model": "m", "method": "agent"}}


def test_summary_rates_and_macro() -> None:
    nq = summarize_dataset([_record("nq", 1.0), _record("nq", 0.0, answer=None)])
    assert nq["em"] == 50.0 and nq["answer_rate"] == nq["format_valid"] == 50.0
    assert nq["answer_missing_rate"] == 50.0
    assert nq["invalid_action_rate"] == 50.0  # 2 invalid turns of 4
    macro = macro_average({"nq": nq, "b": summarize_dataset([_record("b", 1.0)])})
    assert macro["em"] == 75.0  # unweighted over datasets, as the paper's Avg.


def test_rerun_replaces_the_earlier_run(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    first = RunReport(tmp_path).start()
    first.append([_record("nq", 1.0), _record("nq", 1.0)])
    first.finish(_results({"nq": [_record("nq", 1.0)] * 2}))
    (tmp_path / "results.png.partial").write_text("left by a killed run")

    second = RunReport(tmp_path).start()
    assert not (tmp_path / "results.json").exists() and not (tmp_path / "predictions.jsonl").exists()
    assert not (tmp_path / "results.png.partial").exists()
    second.append([_record("b", 0.0)])
    second.finish(_results({"b": [_record("b", 0.0)]}))
    assert len((tmp_path / "predictions.jsonl").read_text().splitlines()) == 1
    assert list(json.loads((tmp_path / "results.json").read_text())["datasets"]) == ["b"]
    assert (tmp_path / "notes.txt").read_text() == "mine"  # not ours: left alone


def test_markdown_table_is_paper_shaped() -> None:
    text = render_markdown(_results({"nq": [_record("nq", 1.0)], "2wikimultihopqa": [_record("w", 0.0)]}))
    assert "| Metric | NQ | 2Wiki | Avg. |" in text
    assert "| Strict EM | 100.00 | 0.00 | 50.00 |" in text
