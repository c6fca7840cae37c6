"""GRPO's question pool: a few training questions whose answer a search finds, revisited every epoch.

With one question a step drawn from 128, a step's reward mostly says which question was drawn, and most
groups score 0 everywhere (docs/benchmarks.md, "Learning signal"). A pool of ``grpo_pool`` questions whose
gold answer is in the BM25 top-k of the question over the local corpus gives GRPO questions it can answer
from documents, and, with one question a step, every ``grpo_pool`` steps revisit the same questions (TRL
shuffles once per epoch): the reward curve's thirds score the same questions before and after training.
Yes/no answers are left out (any passage "contains" them). The cold start draws its demonstrations from the
other training questions, so it never shows the pool's answers.

    split = answerable_pool(split, out, pool=4, corpus=data_dir / "corpus" / "wiki_mini.jsonl", top_k=3)

Over this repository's data most NQ training questions are answerable (139 of 200 with top 3) and few
HotpotQA ones (6 of 200: its answers need two passages), so a dataset short of its even share leaves the rest
to the others.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from zerosearch.common.errors import DatasetError
from zerosearch.common.io import read_jsonl
from zerosearch.common.metrics import contains_answer, normalize_answer
from zerosearch.common.search.base import SearchBackend, SearchRequest
from zerosearch.experiment.arms import SplitFiles

__all__ = ["answerable", "answerable_pool"]

log = logging.getLogger(__name__)

_YES_NO = {"yes", "no"}


def answerable(rows: list[dict[str, Any]], backend: SearchBackend, top_k: int) -> list[dict[str, Any]]:
    """The rows whose gold answer (whole words) is in the top ``top_k`` results for the question text; rows
    with a yes/no gold are left out."""
    candidates = [row for row in rows if not {normalize_answer(g) for g in row["golden_answers"]} & _YES_NO]
    results = backend.search_batch([SearchRequest(query=row["question"], k=top_k) for row in candidates])
    return [
        row
        for row, result in zip(candidates, results, strict=True)
        if contains_answer(" ".join(f"{d.title} {d.text}" for d in result.documents), row["golden_answers"])
    ]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _quotas(available: list[int], pool: int) -> list[int]:
    """How many pool questions each dataset gives: an even share, and a dataset short of answerable questions
    leaves its shortfall to the others (in file order)."""
    share, extra = divmod(pool, len(available))
    quotas = [min(n, share + (i < extra)) for i, n in enumerate(available)]
    for i, n in enumerate(available):  # the shortfall, from the datasets with answerable questions to spare
        quotas[i] += min(n - quotas[i], pool - sum(quotas))
    return quotas


def answerable_pool(split: SplitFiles, out: Path, *, pool: int, corpus: Path, top_k: int) -> SplitFiles:
    """Split the training files into GRPO's pool (``pool`` answerable questions, evenly over the datasets
    where each has enough, in file order) and the cold start's questions (the rest); the held-out files are
    unchanged."""
    # Heavy dependency (bm25s): imported on use, so importing this module stays light.
    from zerosearch.common.search.bm25 import BM25Backend

    backend = BM25Backend(corpus)
    rows = {path: read_jsonl(path) for path in split.train}
    found = {path: answerable(rows[path], backend, top_k) for path in split.train}
    if sum(len(f) for f in found.values()) < pool:
        counts = ", ".join(f"{path.stem} {len(f)}" for path, f in found.items())
        raise DatasetError(
            f"grpo_pool: {pool} asked for, but the training questions hold only {counts} answerable ones "
            f"(gold in the BM25 top {top_k}); lower grpo_pool or raise train_questions",
            param="grpo_pool",
        )
    quotas = _quotas([len(found[path]) for path in split.train], pool)
    pool_files, cold_start_files = [], []
    for path, quota in zip(split.train, quotas, strict=True):
        chosen = found[path][:quota]
        taken = {row["question"] for row in chosen}
        if chosen:  # a dataset with no answerable question gives the pool no (empty) file
            pool_files.append(_write(out / "data" / "pool" / path.name, chosen))
        rest = [row for row in rows[path] if row["question"] not in taken]
        cold_start_files.append(_write(out / "data" / "cold_start" / path.name, rest))
        log.info("grpo pool: %d of %d answerable %s questions; the cold start draws from %d others",
                 len(chosen), len(found[path]), path.stem, len(rest))  # fmt: skip
    return SplitFiles(split.heldout, pool_files, cold_start_files)
