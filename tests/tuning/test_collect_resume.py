"""Collection resumes after a crash: a torn last line is repaired and finished question ids are skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tuning.conftest import read_lines, write_questions
from zerosearch.common.errors import DatasetError
from zerosearch.tuning.collect import main
from zerosearch.tuning.config import CollectConfig
from zerosearch.tuning.records import CollectedRecord, append_jsonl, read_jsonl, repair_torn_tail


def _done(rid: str) -> CollectedRecord:
    return CollectedRecord(id=rid, question=f"{rid}?", golden_answers=["a"])


def test_torn_tail_is_repaired_and_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    append_jsonl(path, [_done("a"), _done("b")])
    with path.open("a") as handle:
        handle.write('{"id": "c", "quest')  # the process died mid-write
    assert [r.id for r in read_jsonl(path, CollectedRecord, tolerate_torn_tail=True)] == ["a", "b"]
    with pytest.raises(DatasetError, match=r"c.jsonl:3"):
        list(read_jsonl(path, CollectedRecord))
    assert repair_torn_tail(path) == len('{"id": "c", "quest')
    assert path.read_text().count("\n") == 2 and repair_torn_tail(path) == 0


def test_a_malformed_line_inside_the_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "question": "a?", "golden_answers": ["x"]}\nnot json\n')
    with pytest.raises(DatasetError, match=r"c.jsonl:2: not a JSON line"):
        list(read_jsonl(path, CollectedRecord, tolerate_torn_tail=True))


@pytest.mark.model
def test_collect_resumes_after_a_crash(
    tmp_path: Path, data_dir: Path, corpus_path: Path, bundled_model_path: str
) -> None:
    questions = write_questions(data_dir, tmp_path / "q.jsonl", 3)
    output = tmp_path / "collected.jsonl"
    # Two questions finished before the crash; the third was being written when the process died.
    append_jsonl(output, [_done("nq_open_dev_0"), _done("nq_open_dev_1")])
    with output.open("a") as handle:
        handle.write('{"id": "nq_open_dev_2", "question": "when was')
    config = CollectConfig(questions=str(questions), limit=None, policy=bundled_model_path, method="rag",
                           corpus=corpus_path, top_k=2, max_new_tokens=4, output=output)  # fmt: skip
    report = main(config)
    assert (report.already_done, report.collected, report.searches, report.documents) == (2, 1, 1, 2)
    rows = read_lines(output)
    assert [r["id"] for r in rows] == ["nq_open_dev_0", "nq_open_dev_1", "nq_open_dev_2"]
    assert rows[0]["searches"] == [] and len(rows[2]["searches"][0]["documents"]) == 2  # old lines untouched
    again = main(config)  # everything done: nothing runs, no policy is loaded
    assert (again.already_done, again.collected) == (3, 0)
