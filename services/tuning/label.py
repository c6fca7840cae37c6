"""Stage 2: label every collected document useful or noisy, and report the label balance.

Three rules (the paper's simulation tuning, arXiv 2505.04588, plus a gold-answer rule):

- ``answer``: a document is useful when it contains a normalized gold answer (whole words).
- ``trajectory``: the paper's v1 — every document of a trajectory that answered correctly is useful,
  every document of one that did not is noisy.
- ``judge``: the paper's v2 — an LLM decides per document whether it holds enough to answer
  (:mod:`zerosearch.tuning.judge`: an OpenAI-compatible endpoint or a local model).

    report = main(LabelConfig(input=Path("collected.jsonl"), output=Path("labeled.jsonl"), rule="answer"))
    report.useful, report.noisy
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import BaseModel

from zerosearch.common.errors import DatasetError
from zerosearch.common.metrics import contains_answer
from zerosearch.tuning.config import Label, LabelConfig, LabelRule
from zerosearch.tuning.records import (
    CollectedRecord,
    LabeledDocument,
    LabeledSearch,
    read_jsonl,
    write_jsonl,
)

__all__ = ["LabelReport", "label_records", "main"]

log = logging.getLogger(__name__)


class LabelReport(BaseModel):
    """What labelling produced: counts per label and the useful share."""

    rule: LabelRule
    records: int
    searches: int
    documents: int
    useful: int
    noisy: int

    @property
    def useful_share(self) -> float:
        """Share of documents labelled useful (0 when there are none)."""
        return self.useful / self.documents if self.documents else 0.0

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"rule {self.rule}: {self.documents} documents in {self.searches} searches of {self.records} "
            f"questions; useful {self.useful} ({self.useful_share:.1%}), noisy {self.noisy}"
        )


# A decider gets the flat list of (record, query, document) and returns one label each, in order.
Decider = Callable[[list[tuple[CollectedRecord, str, LabeledDocument]]], list[Label]]


def _answer_decider(rows: list[tuple[CollectedRecord, str, LabeledDocument]]) -> list[Label]:
    return [
        Label.USEFUL if contains_answer(f"{doc.title} {doc.text}", rec.golden_answers) else Label.NOISY
        for rec, _, doc in rows
    ]


def _trajectory_decider(metric: str) -> Decider:
    def decide(rows: list[tuple[CollectedRecord, str, LabeledDocument]]) -> list[Label]:
        return [Label.USEFUL if getattr(rec, metric) >= 1.0 else Label.NOISY for rec, _, _ in rows]

    return decide


def _decider(config: LabelConfig) -> Decider:
    if config.rule == LabelRule.ANSWER:
        return _answer_decider
    if config.rule == LabelRule.TRAJECTORY:
        return _trajectory_decider(config.correct_metric)
    from zerosearch.tuning.judge import make_judge  # loads a model or opens HTTP: only when used

    judge = make_judge(config)
    judge.check()  # a judge that is down fails here, before any document is sent

    def decide(rows: list[tuple[CollectedRecord, str, LabeledDocument]]) -> list[Label]:
        verdicts = judge.judge(
            [(rec.question, rec.golden_answers, doc.title, doc.text) for rec, _, doc in rows]
        )
        return [Label.USEFUL if v else Label.NOISY for v in verdicts]

    return decide


def label_records(records: list[CollectedRecord], config: LabelConfig) -> list[LabeledSearch]:
    """Label every document of every successful search call of ``records``."""
    rows: list[tuple[CollectedRecord, str, LabeledDocument]] = []
    calls: list[tuple[CollectedRecord, str, int]] = []  # (record, query, how many documents)
    for rec in records:
        for search in rec.searches:
            if search.failed or not search.documents:
                continue  # a failed call holds the NO_INFORMATION observation, not real documents
            calls.append((rec, search.query, len(search.documents)))
            for doc in search.documents:
                rows.append((rec, search.query, LabeledDocument(**doc.model_dump(), label=Label.NOISY)))
    if not rows:
        raise DatasetError(
            f"the collection {config.input} holds no documents ({len(records)} questions, no successful "
            "search): the policy never searched? Collect with method rag, or a policy that writes <search>",
            param="input",
        )
    labels = _decider(config)(rows)
    for (_, _, doc), label in zip(rows, labels, strict=True):
        doc.label = label
    out, start = [], 0
    for rec, query, count in calls:
        docs = [doc for _, _, doc in rows[start : start + count]]
        start += count
        out.append(
            LabeledSearch(
                id=rec.id,
                question=rec.question,
                golden_answers=rec.golden_answers,
                query=query,
                rule=config.rule,
                documents=docs,
            )
        )
    return out


def main(config: LabelConfig) -> LabelReport:
    """Read the collection, label it by ``config.rule``, write ``config.output``, report the balance."""
    records = list(read_jsonl(config.input, CollectedRecord, tolerate_torn_tail=True))
    if not records:
        raise DatasetError(
            f"the collection {config.input} is empty: run `zerosearch sft collect`", param="input"
        )
    labeled = label_records(records, config)
    write_jsonl(config.output, labeled)
    useful = sum(1 for s in labeled for d in s.documents if d.label == Label.USEFUL)
    total = sum(len(s.documents) for s in labeled)
    report = LabelReport(
        rule=config.rule,
        records=len(records),
        searches=len(labeled),
        documents=total,
        useful=useful,
        noisy=total - useful,
    )
    log.info("%s", report.summary())
    if report.useful == 0 or report.noisy == 0:
        log.warning(
            "every document is %s: building SFT examples will refuse this", labeled[0].documents[0].label
        )
    return report
