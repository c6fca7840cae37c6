"""Stage 1: run a policy with the agent loop against a REAL search engine and keep every search.

One JSONL line per question (:class:`~zerosearch.tuning.records.CollectedRecord`): gold answers, the
trajectory's answer and its EM/cover-EM/F1, and each search call's sub-query and documents. Questions are
rolled out in batches and every batch is appended (and fsynced) as soon as it is done, so a crash loses at
most one batch: the next run repairs a torn last line and skips the question ids already in the file.

    report = main(CollectConfig(questions="nq", limit=200, method="agent", backend="bm25"))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from zerosearch.common import io
from zerosearch.common.agent import run_rollouts
from zerosearch.common.datasets import load_benchmark
from zerosearch.common.errors import ConfigError, DatasetError
from zerosearch.common.metrics import qa_scores
from zerosearch.common.policies.transformers import TransformersPolicy
from zerosearch.common.queue import report_progress
from zerosearch.common.search.base import SearchBackend
from zerosearch.common.search.factory import make_backend
from zerosearch.common.settings import get_common_settings
from zerosearch.common.trajectory import QAItem, RolloutConfig, Trajectory
from zerosearch.tuning.config import CollectConfig
from zerosearch.tuning.records import (
    CollectedRecord,
    CollectedSearch,
    append_jsonl,
    read_jsonl,
    repair_torn_tail,
)

__all__ = ["CollectReport", "load_questions", "main", "make_real_backend", "to_record"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (questions done, questions total) after each saved batch."""


class CollectReport(BaseModel):
    """What a collect run found and added."""

    output: Path
    questions: int
    already_done: int
    collected: int
    searches: int
    documents: int


def load_questions(spec: str, limit: int | None, seed: int) -> list[QAItem]:
    """The seeded question sample of a benchmark name or QA file, one item per id."""
    items = load_benchmark(spec, data_dir=get_common_settings().data_dir, limit=limit, seed=seed)
    unique: dict[str, QAItem] = {}
    for item in items:
        unique.setdefault(item.id, item)  # resume works by id, so an id must stand for one question
    if len(unique) < len(items):
        log.warning("%s: %d duplicate question ids dropped", spec, len(items) - len(unique))
    return list(unique.values())


def default_corpus() -> Path:
    """``<data_dir>/corpus/wiki_mini.jsonl``, or a ConfigError saying how to give one."""
    data_dir = get_common_settings().data_dir
    if data_dir is None:
        raise ConfigError("no corpus given and no data folder found: pass --corpus", param="corpus")
    return io.default_corpus(data_dir)


def make_real_backend(kind: str, corpus: Path | None, url: str | None) -> SearchBackend:
    """A real engine (never the simulator): bm25 over ``corpus``, a retrieval ``url``, or a paid web API."""
    if kind == "bm25":
        return make_backend("bm25", corpus=corpus or default_corpus())
    if kind == "retrieval":
        if not url:
            raise ConfigError(
                "backend retrieval needs --backend-url (the Search-R1 /retrieve URL)", param="backend_url"
            )
        return make_backend("retrieval", url=url)
    if kind in ("serpapi", "serper", "tavily", "brave"):
        return make_backend(kind)  # key from its environment variable; answers cached when Redis is known
    raise ConfigError(
        f"backend must be bm25, retrieval, serpapi, serper, tavily or brave, got {kind!r}", param="backend"
    )


def to_record(trajectory: Trajectory) -> CollectedRecord:
    """One finished trajectory as a collection line."""
    item = trajectory.item
    scores = qa_scores(trajectory.answer, item.golden_answers)
    return CollectedRecord(
        id=item.id,
        question=item.question,
        golden_answers=item.golden_answers,
        dataset=item.dataset,
        answer=trajectory.answer,
        em=scores.em,
        cover_em=scores.cover_em,
        f1=scores.f1,
        searches=[
            CollectedSearch(query=s.query, documents=s.documents, failed=s.failed)
            for s in trajectory.searches
        ],
    )


def _done_ids(path: Path) -> set[str]:
    """Ids already in the output; a torn last line (crash mid-write) is cut off first."""
    if not path.exists():
        return set()
    repair_torn_tail(path)
    return {r.id for r in read_jsonl(path, CollectedRecord)}


def main(config: CollectConfig, *, progress: Progress | None = None) -> CollectReport:
    """Collect ``config.limit`` questions, resuming after the ids already in ``config.output``."""
    items = load_questions(config.questions, config.limit, config.seed)
    done = _done_ids(config.output)
    todo = [item for item in items if item.id not in done]
    already = len(items) - len(todo)
    log.info(
        "collect: %d questions, %d already in %s, %d to run", len(items), already, config.output, len(todo)
    )
    backend = make_real_backend(config.backend, config.corpus, config.backend_url)  # bad corpus fails here
    searches = documents = collected = 0
    if todo:
        policy = TransformersPolicy.from_pretrained(config.policy)
        rollout = RolloutConfig(
            **config.rollout.model_dump(),  # the shared rollout block
            method=config.method,
            temperature=config.temperature,
            seed=config.seed,
        )
        for start in range(0, len(todo), config.batch_size):
            batch = todo[start : start + config.batch_size]
            records = [to_record(t) for t in run_rollouts(policy, backend, batch, rollout)]
            append_jsonl(config.output, records)
            collected += len(records)
            searches += sum(len(r.searches) for r in records)
            documents += sum(len(s.documents) for r in records for s in r.searches)
            report_progress(stage="collect", done=already + collected, total=len(items))
            if progress is not None:
                progress(already + collected, len(items))
    if already + collected == 0:
        raise DatasetError(f"nothing collected into {config.output}: no questions", param="questions")
    return CollectReport(
        output=config.output,
        questions=len(items),
        already_done=already,
        collected=collected,
        searches=searches,
        documents=documents,
    )
