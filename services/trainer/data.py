"""Training data: the questions a run trains on, and the guard that keeps them out of every evaluation set.

Registered names resolve to their **train** split here (``load_benchmark(..., split="train")``), evaluation
names to their test/dev split (the paper trains on the NQ + HotpotQA train splits, released as
sunhaonlp/ZeroSearch_dataset). Before a run contacts the simulator or loads a model,
:func:`check_disjoint` compares the normalised training questions with

- the evaluation split of every registered training set (``nq`` trains → NQ test must not hold them;
  ``zerosearch`` → NQ test and HotpotQA dev), and
- every dataset of the run's auto-evaluation (``eval.datasets``), read as the evaluator will read it,

and refuses with one line naming the dataset and the overlap count (``eval_overlap: drop`` drops those
questions instead, logged: a hub train split may share a few questions with a test set).

    items = check_disjoint(load_training_items(config), config)   # DatasetError: "... 'nq': 37 of 64 ..."
"""

from __future__ import annotations

import logging
from pathlib import Path

from zerosearch.common.datasets import BENCHMARKS, TRAINING_SETS, DatasetSource, load_benchmark
from zerosearch.common.errors import ConfigError, DatasetError
from zerosearch.common.metrics import normalize_answer
from zerosearch.common.settings import get_common_settings
from zerosearch.common.trajectory import QAItem
from zerosearch.trainer.config import TrainConfig

__all__ = [
    "check_disjoint",
    "cold_start_items",
    "evaluation_questions",
    "load_training_items",
    "question_key",
]

log = logging.getLogger(__name__)


def question_key(question: str) -> str:
    """A question's identity for the overlap check: the paper's answer normalisation applied to its text."""
    return normalize_answer(question)


def _data_dir(config: TrainConfig) -> Path:
    return Path(config.data_dir or get_common_settings().data_dir)  # ZEROSEARCH_DATA_DIR or data/


def load_training_items(config: TrainConfig, datasets: list[str] | None = None) -> list[QAItem]:
    """The training questions (train splits) of ``datasets`` (default: the run's): one item per distinct
    question (golds merged), then limit."""
    merged: dict[str, QAItem] = {}
    for spec in datasets or config.datasets:
        for item in load_benchmark(spec, data_dir=_data_dir(config), seed=config.seed, split="train"):
            # TRL hands the rollout prompts only, so a question text must map to one item.
            key = item.question.strip()
            if key in merged:
                golds = list(dict.fromkeys([*merged[key].golden_answers, *item.golden_answers]))
                merged[key] = merged[key].model_copy(update={"golden_answers": golds})
            else:
                merged[key] = item.model_copy(update={"question": key})
    items = [item for item in merged.values() if item.golden_answers]
    if config.train_limit is not None:
        items = items[: config.train_limit]
    if len(items) < config.prompts_per_step:
        raise ConfigError(
            f"datasets give {len(items)} usable questions, fewer than prompts_per_step={config.prompts_per_step}",
            param="datasets",
        )
    return items


def _eval_specs(config: TrainConfig) -> list[tuple[str, Path, DatasetSource]]:
    """(spec, data_dir, source) of every evaluation set the training questions must stay out of."""
    specs: list[tuple[str, Path, DatasetSource]] = []
    for spec in [*config.datasets, *(config.cold_start.datasets or [])]:
        key = spec.strip().lower()
        for name in TRAINING_SETS.get(key, (key,) if key in BENCHMARKS else ()):
            specs.append((name, _data_dir(config), "auto"))
    if config.eval.enabled:
        extra = config.eval.extra
        eval_dir = Path(extra["data_dir"]) if extra.get("data_dir") else _data_dir(config)
        source = extra.get("source", "auto")
        specs.extend((spec, eval_dir, source) for spec in config.eval.datasets)
    return list(dict.fromkeys(specs))


def evaluation_questions(config: TrainConfig) -> dict[str, set[str]]:
    """Normalised questions of every evaluation set of the run, by dataset spec (whole sets, no limit)."""
    found: dict[str, set[str]] = {}
    for spec, data_dir, source in _eval_specs(config):
        items = load_benchmark(spec, data_dir=data_dir, source=source, split="eval")
        found.setdefault(spec, set()).update(question_key(item.question) for item in items)
    return found


def check_disjoint(items: list[QAItem], config: TrainConfig) -> list[QAItem]:
    """The training items, disjoint from every evaluation set of the run: an overlap refuses the run
    (DatasetError, one line) or, with ``eval_overlap: drop``, the overlapping questions are dropped (logged)."""
    training = {question_key(item.question) for item in items}
    evaluated: set[str] = set()
    for spec, questions in evaluation_questions(config).items():
        overlap = len(training & questions)
        if overlap and config.eval_overlap == "refuse":
            raise DatasetError(
                f"training data overlaps evaluation set {spec!r}: {overlap} of {len(training)} training "
                "questions (normalised text) are also evaluation questions; train on a train split "
                "(e.g. nq, hotpotqa, zerosearch), remove them, or set eval_overlap: drop",
                param="datasets",
            )
        if overlap:
            log.warning("dropping %d training questions that evaluation set %r holds", overlap, spec)
        evaluated |= questions
    kept = [item for item in items if question_key(item.question) not in evaluated]
    if len(kept) < config.prompts_per_step:
        raise DatasetError(
            f"only {len(kept)} training questions are not evaluation questions, fewer than "
            f"prompts_per_step={config.prompts_per_step}",
            param="datasets",
        )
    log.info("training questions (%d) are disjoint from every evaluation set", len(kept))
    return kept


def cold_start_items(config: TrainConfig, items: list[QAItem]) -> list[QAItem]:
    """The cold start's questions: ``cold_start.datasets`` when given (disjoint from every evaluation set,
    as the training questions are), else the training questions themselves."""
    if not config.cold_start.enabled or not config.cold_start.datasets:
        return items
    return check_disjoint(load_training_items(config, config.cold_start.datasets), config)
