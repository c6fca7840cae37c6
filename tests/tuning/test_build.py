"""Building SFT examples from labelled searches (no model): format, snippets, balance, split, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tuning.conftest import read_lines
from zerosearch.common.errors import DatasetError
from zerosearch.simulator.parsing import parse_documents
from zerosearch.simulator.prompts import PromptStyle, build_messages
from zerosearch.tuning.build import main, snippet
from zerosearch.tuning.config import BuildConfig, Label, LabelRule
from zerosearch.tuning.records import LabeledDocument, LabeledSearch, write_jsonl


def _search(qid: str, labels: list[str], golds: tuple[str, ...] = ("Herman Melville",)) -> LabeledSearch:
    docs = [
        LabeledDocument(rank=i, title=f"T{i}", text=("Moby-Dick was written by Herman Melville in 1851."
                        if label == "useful" else f"Whales are mammals number {i} of the ocean."), label=label)
        for i, label in enumerate(labels, 1)
    ]  # fmt: skip
    return LabeledSearch(id=qid, question=f"question {qid}?", golden_answers=list(golds), query=f"query {qid}",
                         rule=LabelRule.ANSWER, documents=docs)  # fmt: skip


def _labeled(tmp_path: Path, searches: list[LabeledSearch]) -> Path:
    path = tmp_path / "labeled.jsonl"
    write_jsonl(path, searches)
    return path


def test_snippet_centres_on_the_gold_answer() -> None:
    text = " ".join(f"w{i}" for i in range(50)) + " Herman Melville " + " ".join(f"x{i}" for i in range(50))
    cut = snippet(text, ["herman melville"], 12)
    assert len(cut.split()) == 12 and "Herman Melville" in cut
    assert snippet("short text here", ["zzz"], 12) == "short text here"
    assert snippet(text, ["absent"], 5) == "w0 w1 w2 w3 w4"


def test_examples_are_the_simulator_prompt_and_parse_back(tmp_path: Path) -> None:
    searches = [_search(f"q{i}", ["useful", "noisy", "noisy"]) for i in range(4)]
    report = main(
        BuildConfig(input=_labeled(tmp_path, searches), output_dir=tmp_path / "data", valid_fraction=0.25)
    )
    assert (report.useful_available, report.noisy_available) == (4, 4)
    rows = read_lines(tmp_path / "data" / "train.jsonl") + read_lines(tmp_path / "data" / "valid.jsonl")
    noisy = next(r for r in rows if r["mode"] == Label.NOISY)
    qid = noisy["id"]
    assert noisy["prompt"] == build_messages(f"query {qid}", "noisy", question=f"question {qid}?",
                                             answer="Herman Melville", k=2, style=PromptStyle.TUNED)  # fmt: skip
    docs = parse_documents(noisy["completion"][0]["content"], k=5)
    assert [d.title for d in docs] == ["T2", "T3"]  # the simulator's parser reads the target back
    useful = next(r for r in rows if r["mode"] == Label.USEFUL)
    assert useful["prompt"][0]["content"].endswith("Useful Output:")


def test_labels_are_balanced_and_split_by_question(tmp_path: Path) -> None:
    searches = [_search(f"q{i}", ["useful", "noisy"]) for i in range(3)]
    searches += [_search(f"n{i}", ["noisy", "noisy"]) for i in range(5)]
    report = main(
        BuildConfig(input=_labeled(tmp_path, searches), output_dir=tmp_path / "d", valid_fraction=0.3)
    )
    assert (report.useful_available, report.noisy_available) == (3, 8)
    train, valid = read_lines(tmp_path / "d" / "train.jsonl"), read_lines(tmp_path / "d" / "valid.jsonl")
    modes = [r["mode"] for r in train + valid]
    assert modes.count("useful") == modes.count("noisy") == 3
    assert valid and not {r["id"] for r in train} & {r["id"] for r in valid}


def test_the_gold_answer_the_documents_state_goes_into_the_prompt(tmp_path: Path) -> None:
    search = _search("q0", ["useful", "noisy"], golds=("Melville, Herman", "Herman Melville"))
    main(BuildConfig(input=_labeled(tmp_path, [search]), output_dir=tmp_path / "d", valid_fraction=0.0))
    useful = next(r for r in read_lines(tmp_path / "d" / "train.jsonl") if r["mode"] == "useful")
    assert 'whose answer is "Herman Melville"' in useful["prompt"][0]["content"]


@pytest.mark.parametrize("labels", [["useful", "useful"], ["noisy"]])
def test_labels_all_one_class_is_a_clear_error(tmp_path: Path, labels: list[str]) -> None:
    searches = [_search(f"q{i}", labels) for i in range(3)]
    with pytest.raises(DatasetError, match=f"every example is {labels[0]}"):
        main(BuildConfig(input=_labeled(tmp_path, searches), output_dir=tmp_path / "d"))
    assert not (tmp_path / "d" / "train.jsonl").exists()


def test_empty_labelled_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no labelled searches"):
        main(BuildConfig(input=_labeled(tmp_path, []), output_dir=tmp_path / "d"))
