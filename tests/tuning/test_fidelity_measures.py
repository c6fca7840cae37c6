"""The fidelity measures on hand-made results (no model): rates, failures and the report files."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerosearch.common.documents import Document
from zerosearch.common.errors import SearchBackendError
from zerosearch.common.search.base import SearchResult
from zerosearch.common.trajectory import QAItem
from zerosearch.tuning.config import FidelityConfig
from zerosearch.tuning.fidelity import FidelityReport, main, measure, render_markdown, render_plot


def _result(*texts: str, failed: bool = False) -> SearchResult:
    docs = [Document(rank=i, text=t) for i, t in enumerate(texts, 1)]
    return SearchResult(query="q", documents=docs, failed=failed)


def test_measure_counts_documents_calls_format_and_length() -> None:
    items = [QAItem(id=str(i), question="q?", golden_answers=["Paris"]) for i in range(3)]
    results = [
        _result("The capital is Paris.", "Lyon is a city."),  # 1 hit, valid (k=2)
        _result("Nothing here at all."),  # no hit, only 1 of 2 documents: invalid
        _result(failed=True),  # failed: invalid, no documents
    ]
    row = measure("sim", "useful", items, results, k=2)
    assert (row.calls, row.failed, row.documents) == (3, 1, 3)
    assert row.doc_answer_rate == pytest.approx(1 / 3) and row.call_answer_rate == pytest.approx(1 / 3)
    assert row.format_valid_rate == pytest.approx(1 / 3)
    assert row.mean_doc_words == pytest.approx((4 + 4 + 4) / 3)


def test_report_renders_gap_table_and_png(tmp_path: Path) -> None:
    items = [QAItem(id="1", question="q?", golden_answers=["Paris"])]
    rows = [measure("sim", "useful", items, [_result("Paris is big.")], 1),
            measure("sim", "noisy", items, [_result("Lyon is big.")], 1)]  # fmt: skip
    report = FidelityReport(simulator="http://x", questions="nq", n_questions=1, k=1, rows=rows)
    assert report.gap() == 1.0
    text = render_markdown(report)
    assert "| sim | useful | 1 | 0 | 100.0% |" in text and "**+100.0%**" in text
    render_plot(report, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


def test_simulator_that_is_down_fails_before_measuring(tmp_path: Path, data_dir: Path) -> None:
    from tests.common.servers import serve

    with serve({}) as server:
        url = server.url  # free a moment ago, closed now
    config = FidelityConfig(simulator=url, questions="nq", limit=2, backend="none", output_dir=tmp_path)
    with pytest.raises(SearchBackendError, match="unreachable"):
        main(config)
    assert not (tmp_path / "fidelity.md").exists()
