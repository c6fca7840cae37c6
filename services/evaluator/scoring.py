"""Scoring: one prediction record per trajectory, then per-dataset and macro summaries.

A prediction record holds per-question scores in [0, 1] (``em``, ``cover_em``, ``f1``); summaries are
percentages (0–100) as in the paper's tables. Behaviour counts sit beside the scores, since a score alone
hides whether the policy searched, answered at all, or wrote invalid actions.

    record = prediction_record(trajectory)
    summary = summarize_dataset([record, ...])      # {"n": 1, "em": 100.0, ...}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zerosearch.common.metrics import qa_scores
from zerosearch.common.trajectory import Trajectory

__all__ = ["METRICS", "macro_average", "prediction_record", "summarize_dataset"]

METRICS = ("em", "cover_em", "f1")
"""Score keys of a record and of a summary (strict EM, cover EM, token F1)."""


def prediction_record(trajectory: Trajectory) -> dict[str, Any]:
    """The ``predictions.jsonl`` line of one trajectory (``answer`` is None when the model gave none)."""
    item = trajectory.item
    scores = qa_scores(trajectory.answer, item.golden_answers)
    return {
        "dataset": item.dataset,
        "id": item.id,
        "question": item.question,
        "golden_answers": list(item.golden_answers),
        "answer": trajectory.answer,
        "em": scores.em,
        "cover_em": scores.cover_em,
        "f1": round(scores.f1, 6),
        "searches": len(trajectory.searches),
        "queries": [call.query for call in trajectory.searches],
        "failed_searches": trajectory.failed_searches,
        "turns": trajectory.turns,
        "invalid_actions": trajectory.invalid_actions,
        "truncated": trajectory.truncated,
        "trajectory": trajectory.completion_text,
    }


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def summarize_dataset(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-dataset figures: n, scores in %, searches per question and the behaviour rates.

    ``invalid_action_rate`` is invalid turns over all turns; ``answer_rate`` (= ``format_valid``) and
    ``answer_missing_rate`` are over questions; all in %.
    """
    n = len(records)
    summary: dict[str, Any] = {"n": n}
    for key in METRICS:
        summary[key] = _pct(sum(r[key] for r in records), n)
    answered = sum(1 for r in records if r["answer"] is not None)
    turns = sum(r["turns"] for r in records)
    summary.update(
        searches_per_question=round(sum(r["searches"] for r in records) / n, 3) if n else 0.0,
        answer_rate=_pct(answered, n),
        format_valid=_pct(answered, n),  # the same figure under the name the demo's table reads
        answer_missing_rate=_pct(n - answered, n),
        invalid_action_rate=_pct(sum(r["invalid_actions"] for r in records), turns),
        failed_searches=sum(r["failed_searches"] for r in records),
        truncated=sum(1 for r in records if r["truncated"]),
    )
    return summary


def macro_average(per_dataset: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Unweighted mean over datasets of each score (the paper's "Avg." column), plus searches/question."""
    if not per_dataset:
        return {key: 0.0 for key in (*METRICS, "searches_per_question")}
    count = len(per_dataset)
    macro = {key: round(sum(d[key] for d in per_dataset.values()) / count, 2) for key in METRICS}
    macro["searches_per_question"] = round(
        sum(d["searches_per_question"] for d in per_dataset.values()) / count, 3
    )
    return macro
