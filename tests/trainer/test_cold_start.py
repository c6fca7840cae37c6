"""Cold-start demonstrations: the trained answer always fits, documents and inserted text are masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerosearch.common.models import load_tokenizer
from zerosearch.common.search.bm25 import BM25Backend
from zerosearch.common.template import answer_only_instruction
from zerosearch.common.trajectory import QAItem
from zerosearch.trainer.cold_start import build_demonstrations

ITEMS = [
    QAItem(id="a", question="who wrote the novel moby dick", golden_answers=["Herman Melville"]),
    QAItem(id="b", question="when did the berlin wall fall", golden_answers=["9 November 1989"]),
]


@pytest.fixture(scope="module")
def tokenizer(bundled_model_path: str):  # type: ignore[no-untyped-def]
    return load_tokenizer(bundled_model_path, padding_side="right")


@pytest.mark.parametrize("forced_answer", [False, True])
def test_long_documents_are_cut_never_the_answer(tokenizer, corpus_path: Path, forced_answer: bool) -> None:  # type: ignore[no-untyped-def]
    max_length = 320  # shorter than prompt + 3 full BM25 passages + answer: the documents must give way
    rows = build_demonstrations(
        ITEMS,
        BM25Backend(corpus_path),
        tokenizer,
        top_k=3,
        max_length=max_length,
        forced_answer=forced_answer,
    )
    assert len(rows) == len(ITEMS)
    for item, row in zip(ITEMS, rows, strict=True):
        ids, mask = row["input_ids"], row["completion_mask"]
        assert len(ids) == len(mask) <= max_length
        assert ids[-1] == tokenizer.eos_token_id and mask[-1] == 1  # the stop is learned
        trained = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
        masked = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if not m])
        assert f"<answer> {item.golden_answers[0]} </answer>" in trained
        assert "<search>" in trained and "<information>" not in trained
        assert "<information>" in masked and "</information>" in masked
        assert (answer_only_instruction().strip() in masked) is forced_answer


def test_max_length_too_short_for_any_demonstration_is_a_config_error(tokenizer, corpus_path: Path) -> None:  # type: ignore[no-untyped-def]
    from zerosearch.common.errors import ConfigError

    with pytest.raises(ConfigError, match=r"cold_start\.max_length=64"):
        build_demonstrations(ITEMS, BM25Backend(corpus_path), tokenizer, top_k=1, max_length=64)


def test_answer_in_documents_keeps_only_demonstrations_that_can_be_copied(
    tokenizer, corpus_path: Path, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    from zerosearch.common.datasets import load_benchmark
    from zerosearch.common.metrics import contains_answer

    items = load_benchmark("nq", data_dir=data_dir)[:30]
    backend = BM25Backend(corpus_path)
    rows = build_demonstrations(items, backend, tokenizer, top_k=3, max_length=512, answer_in_documents=True)
    capped = build_demonstrations(
        items, backend, tokenizer, top_k=3, max_length=512, answer_in_documents=True, limit=2
    )
    assert 0 < len(rows) < len(items) and len(capped) == 2  # a filter, and the limit counts kept ones
    for row in rows:
        ids, mask = row["input_ids"], row["completion_mask"]
        masked = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if not m])
        trained = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
        answer = trained.split("<answer>")[1].split("</answer>")[0].strip()
        documents = masked.rsplit("<information>", 1)[1].split("</information>")[
            0
        ]  # the last block: the prompt names the tags too
        assert contains_answer(documents, [answer])  # the demonstrated answer is in its own documents
