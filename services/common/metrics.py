"""QA metrics shared by the evaluator (scores) and the trainer (reward): strict EM, cover EM, token F1.

Answers are compared after SQuAD normalisation (Rajpurkar et al., 2016, the official ``evaluate-v1.1.py``):
lowercase, strip punctuation, drop the articles a/an/the, collapse whitespace. Every metric takes the
maximum over the gold answers, as SQuAD and the ZeroSearch paper (Sun et al., 2025, §4.1) do.

- ``strict_em``: normalized prediction equals a normalized gold.
- ``cover_em``: a normalized gold occurs inside the normalized prediction; what the ZeroSearch reference
  code calls "EM" (Alibaba-NLP/ZeroSearch's evaluation), reported here under its own name.
- ``token_f1``: SQuAD token-overlap F1; the paper's reward (EM as reward led to reward hacking).

A missing prediction (``None``: the model gave no ``<answer>``) scores 0 everywhere, never raises.

    >>> qa_scores("The Eiffel Tower!", ["Eiffel Tower", "La tour Eiffel"])
    QAScores(em=1.0, cover_em=1.0, f1=1.0)
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "QAScores",
    "contains_answer",
    "cover_em",
    "normalize_answer",
    "qa_scores",
    "strict_em",
    "token_f1",
]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
# SQuAD removes string.punctuation; we also remove Unicode punctuation (curly quotes, dashes, «»), which
# real model outputs and the benchmarks' gold strings contain and which SQuAD's ASCII set would keep.
_PUNCTUATION = frozenset(string.punctuation)


def _is_punctuation(char: str) -> bool:
    return char in _PUNCTUATION or unicodedata.category(char).startswith("P")


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, strip punctuation, drop a/an/the, collapse whitespace.

    >>> normalize_answer("  The  Beatles' “Abbey Road”. ")
    'beatles abbey road'
    """
    # NFKC first so that full-width letters and ligatures compare equal to their plain forms.
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch for ch in text if not _is_punctuation(ch))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _golds(golden_answers: str | Sequence[str]) -> list[str]:
    # A single string is one gold answer, not a sequence of characters.
    return [golden_answers] if isinstance(golden_answers, str) else list(golden_answers)


def strict_em(prediction: str | None, golden_answers: str | Sequence[str]) -> float:
    """1.0 when the normalized prediction equals some normalized gold answer, else 0.0.

    >>> strict_em("the Beatles", ["Beatles"])
    1.0
    """
    if prediction is None:
        return 0.0
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in _golds(golden_answers)))


def cover_em(prediction: str | None, golden_answers: str | Sequence[str]) -> float:
    """1.0 when some non-empty normalized gold is a substring of the normalized prediction, else 0.0.

    A plain substring test, as the reference code does, so that figures compare with the paper's
    (it also means gold "1" is found in "1945": read cover EM as an upper bound).

    >>> cover_em("It was the Beatles, in 1969", ["beatles"])
    1.0
    """
    if prediction is None:
        return 0.0
    pred = normalize_answer(prediction)
    for gold in _golds(golden_answers):
        norm = normalize_answer(gold)
        # An empty gold (e.g. "the") would be inside every prediction: never a match.
        if norm and norm in pred:
            return 1.0
    return 0.0


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str | None, golden_answers: str | Sequence[str]) -> float:
    """SQuAD token F1 of the normalized prediction, max over gold answers; 0.0 for no prediction.

    >>> round(token_f1("Herman Melville wrote it", ["Herman Melville"]), 3)
    0.667
    """
    if prediction is None:
        return 0.0
    pred_tokens = normalize_answer(prediction).split()
    best = 0.0
    for gold in _golds(golden_answers):
        gold_tokens = normalize_answer(gold).split()
        if not pred_tokens or not gold_tokens:
            # SQuAD: two empty answers agree (1.0); one empty side scores 0.
            score = float(pred_tokens == gold_tokens)
        else:
            score = _f1(pred_tokens, gold_tokens)
        best = max(best, score)
    return best


class QAScores(NamedTuple):
    """The three metrics of one prediction, each in [0, 1]."""

    em: float
    cover_em: float
    f1: float


def qa_scores(prediction: str | None, golden_answers: str | Sequence[str]) -> QAScores:
    """Strict EM, cover EM and token F1 of one prediction against its gold answers."""
    return QAScores(
        em=strict_em(prediction, golden_answers),
        cover_em=cover_em(prediction, golden_answers),
        f1=token_f1(prediction, golden_answers),
    )


def contains_answer(text: str, golden_answers: list[str]) -> bool:
    """Whether ``text`` contains a normalized gold answer as whole words ("1" is not found in "1945")."""
    haystack = f" {normalize_answer(text)} "
    for gold in golden_answers:
        needle = normalize_answer(gold)
        if needle and f" {needle} " in haystack:
            return True
    return False
