"""GRPO's answerable pool: real BM25 over the repository's corpus decides, and the cold start never sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zerosearch.common.errors import DatasetError
from zerosearch.common.io import read_jsonl
from zerosearch.common.metrics import contains_answer
from zerosearch.common.search.base import SearchRequest
from zerosearch.common.search.bm25 import BM25Backend
from zerosearch.demo import split_heldout
from zerosearch.experiment.arms import SplitFiles
from zerosearch.experiment.pool import _quotas, answerable, answerable_pool


def test_only_questions_whose_answer_bm25_finds_are_answerable(corpus_path: Path, data_dir: Path) -> None:
    backend = BM25Backend(corpus_path)
    rows = read_jsonl(data_dir / "qa" / "nq.jsonl")[:40]
    yes_no = {"id": "yn", "question": rows[0]["question"], "golden_answers": ["Yes"]}
    nonsense = {"id": "x", "question": rows[0]["question"], "golden_answers": ["qwzxv plorbt"]}
    kept = answerable([*rows, yes_no, nonsense], backend, 3)
    assert yes_no not in kept and nonsense not in kept
    assert 0 < len(kept) < len(rows)  # a filter: some NQ questions pass, not all
    for row in kept:  # each kept row: a gold in the top 3 passages of its own question
        [result] = backend.search_batch([SearchRequest(query=row["question"], k=3)])
        assert contains_answer(
            " ".join(f"{d.title} {d.text}" for d in result.documents), row["golden_answers"]
        )


def test_the_pool_and_the_cold_start_split_the_training_files(
    tmp_path: Path, data_dir: Path, corpus_path: Path
) -> None:
    heldout, train = split_heldout(data_dir, tmp_path, {"nq": 20, "hotpotqa": 10}, 64, seed=0)
    split = answerable_pool(SplitFiles(heldout, train), tmp_path, pool=4, corpus=corpus_path, top_k=3)
    assert split.heldout == heldout and split.cold_start is not None
    for pool_file, cold_file, train_file in zip(split.train, split.cold_start, train, strict=True):
        pool = [r["question"] for r in read_jsonl(pool_file)]
        cold = [r["question"] for r in read_jsonl(cold_file)]
        assert len(pool) == 2 and not set(pool) & set(cold)
        assert sorted(pool + cold) == sorted(r["question"] for r in read_jsonl(train_file))


def test_too_few_answerable_questions_name_the_field(tmp_path: Path, corpus_path: Path) -> None:
    train = tmp_path / "train" / "nq.jsonl"
    train.parent.mkdir()
    row = {"id": "1", "question": "qwzxv plorbt?", "golden_answers": ["qwzxv plorbt"]}
    train.write_text(json.dumps(row) + "\n")
    with pytest.raises(DatasetError, match=r"grpo_pool: 1 asked for, but .* only nq 0 answerable"):
        answerable_pool(SplitFiles([], [train]), tmp_path, pool=1, corpus=corpus_path, top_k=3)


def test_a_dataset_short_of_answerable_questions_leaves_its_share_to_the_others(
    tmp_path: Path, data_dir: Path, corpus_path: Path
) -> None:
    nq = tmp_path / "train" / "nq.jsonl"
    nq.parent.mkdir()
    nq.write_text("".join(json.dumps(r) + "\n" for r in read_jsonl(data_dir / "qa" / "nq.jsonl")[:40]))
    other = tmp_path / "train" / "hotpotqa.jsonl"  # none of its answers is in the corpus
    rows = [
        {"id": str(i), "question": f"qwzxv plorbt {i}?", "golden_answers": ["qwzxv plorbt"]} for i in range(3)
    ]
    other.write_text("".join(json.dumps(r) + "\n" for r in rows))
    split = answerable_pool(SplitFiles([], [nq, other]), tmp_path, pool=4, corpus=corpus_path, top_k=3)
    assert [p.stem for p in split.train] == ["nq"]  # no empty pool file for the short dataset
    assert len(read_jsonl(split.train[0])) == 4
    assert split.cold_start is not None and len(read_jsonl(split.cold_start[1])) == 3


def test_quotas_are_even_where_each_dataset_has_enough() -> None:
    assert _quotas([139, 6], 12) == [6, 6]
    assert _quotas([139, 6], 16) == [10, 6]
    assert _quotas([6, 139], 16) == [6, 10]
    assert _quotas([5, 5], 3) == [2, 1]
    assert _quotas([0, 5], 4) == [0, 4]
