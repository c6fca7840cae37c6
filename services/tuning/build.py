"""Stage 3: SFT examples in the simulator's own fine-tuned ("tuned") prompt format, balanced, split.

Each labelled search call gives up to two examples: its useful documents under the useful prompt and its
noisy documents under the noisy prompt (query, question and answer → ``Doc i:`` lines). Prompt and target
come from :mod:`zerosearch.simulator.prompts` (``build_messages`` / ``build_completion`` with the tuned
style), the very functions the simulator serves with, so a tuned model sees at inference exactly the
prompt it was trained on. Examples are stored in TRL's conversational prompt-completion shape, which
makes SFTTrainer put the loss on the documents only.

Documents are cut to a snippet of ``max_doc_words`` words, centred on the gold answer when it occurs (as a
search engine's snippet centres on the match), so that a useful label stays true after the cut. The two
labels are balanced by down-sampling, and train/valid are split by question id so that no valid question
is seen in training.

    report = main(BuildConfig(input=Path("labeled.jsonl"), output_dir=Path("data")))
"""

from __future__ import annotations

import json
import logging
import math
import random
from pathlib import Path

from pydantic import BaseModel

from zerosearch.common.documents import Document
from zerosearch.common.errors import DatasetError
from zerosearch.common.metrics import normalize_answer
from zerosearch.simulator.prompts import Mode, PromptStyle, build_completion, build_messages
from zerosearch.tuning.config import BuildConfig, Label
from zerosearch.tuning.records import LabeledDocument, LabeledSearch, read_jsonl, write_jsonl

__all__ = ["PROMPT_STYLE", "BuildReport", "SFTExample", "main", "make_examples", "snippet"]

log = logging.getLogger(__name__)

PROMPT_STYLE = PromptStyle.TUNED
"""The simulator prompt style the examples are built in (and a tuned model must be served with)."""


class SFTExample(BaseModel):
    """One SFT pair: chat prompt → assistant message holding the documents."""

    prompt: list[dict[str, str]]
    completion: list[dict[str, str]]
    mode: Label
    id: str
    query: str


class BuildReport(BaseModel):
    """Counts before and after balancing, and where the files went."""

    output_dir: Path
    useful_available: int
    noisy_available: int
    train: int
    valid: int
    prompt_style: str


def _gold_position(words: list[str], golds: list[str]) -> tuple[int, str] | None:
    """(word index, gold) of the first gold answer found in ``words`` (compared normalized)."""
    normalized = [normalize_answer(w) for w in words]
    for gold in golds:
        needle = normalize_answer(gold).split()
        if not needle:
            continue
        for i in range(len(normalized) - len(needle) + 1):
            if normalized[i : i + len(needle)] == needle:
                return i, gold
    return None


def snippet(text: str, golds: list[str], max_words: int) -> str:
    """``text`` cut to ``max_words`` words, the window starting a third of it before the gold answer."""
    words = text.split()
    if len(words) <= max_words:
        return " ".join(words)
    found = _gold_position(words, golds)
    start = 0 if found is None else max(0, min(found[0] - max_words // 3, len(words) - max_words))
    return " ".join(words[start : start + max_words])


def _answer_for(docs: list[LabeledDocument], golds: list[str]) -> str:
    """The gold answer the documents state (useful examples), else the first gold, as the simulator gets."""
    for doc in docs:
        found = _gold_position(f"{doc.title} {doc.text}".split(), golds)
        if found is not None:
            return found[1]
    return golds[0] if golds else ""


def _example(search: LabeledSearch, label: Label, docs: list[LabeledDocument], max_words: int) -> SFTExample:
    answer = _answer_for(docs, search.golden_answers)
    targets = [
        Document(rank=i, title=d.title, text=snippet(d.text, search.golden_answers, max_words))
        for i, d in enumerate(docs, start=1)
    ]
    messages = build_messages(
        search.query,
        Mode(label.value),
        question=search.question,
        answer=answer,
        k=len(docs),
        style=PROMPT_STYLE,
    )
    return SFTExample(
        prompt=messages,
        completion=[{"role": "assistant", "content": build_completion(targets)}],
        mode=label,
        id=search.id,
        query=search.query,
    )


def make_examples(searches: list[LabeledSearch], max_doc_words: int) -> list[SFTExample]:
    """Up to two examples per call: its useful documents and its noisy documents."""
    examples = []
    for search in searches:
        for label in (Label.USEFUL, Label.NOISY):
            docs = [d for d in search.documents if d.label == label]
            if docs:
                examples.append(_example(search, label, docs, max_doc_words))
    return examples


def _balance(examples: list[SFTExample], config: BuildConfig, rng: random.Random) -> list[SFTExample]:
    useful = [e for e in examples if e.mode == Label.USEFUL]
    noisy = [e for e in examples if e.mode == Label.NOISY]
    if not useful or not noisy:
        only = Label.USEFUL if useful else Label.NOISY
        raise DatasetError(
            f"{config.input}: every example is {only} ({len(examples)} of them): the simulator would learn one "
            "mode only. Label with another rule (answer usually gives both), or collect more questions",
            param="input",
        )
    if config.balance:
        size = min(len(useful), len(noisy))
        useful, noisy = rng.sample(useful, size), rng.sample(noisy, size)
    chosen = useful + noisy
    rng.shuffle(chosen)
    if config.max_examples is not None:
        chosen = chosen[: config.max_examples]
    return chosen


def _split(examples: list[SFTExample], fraction: float, rng: random.Random) -> tuple[list, list]:
    """Split by question id so a question's examples all land on one side."""
    ids = sorted({e.id for e in examples})
    rng.shuffle(ids)
    n_valid = math.ceil(fraction * len(ids)) if fraction > 0 and len(ids) > 1 else 0
    valid_ids = set(ids[: min(n_valid, len(ids) - 1)])
    return [e for e in examples if e.id not in valid_ids], [e for e in examples if e.id in valid_ids]


def main(config: BuildConfig) -> BuildReport:
    """Read labelled searches, build, balance and split the examples, write train/valid JSONL."""
    searches = list(read_jsonl(config.input, LabeledSearch))
    if not searches:
        raise DatasetError(
            f"{config.input} holds no labelled searches: run `zerosearch sft label`", param="input"
        )
    examples = make_examples(searches, config.max_doc_words)
    rng = random.Random(config.seed)
    useful = sum(e.mode == Label.USEFUL for e in examples)
    chosen = _balance(examples, config, rng)
    train, valid = _split(chosen, config.valid_fraction, rng)
    out = Path(config.output_dir)
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "valid.jsonl", valid)
    report = BuildReport(
        output_dir=out,
        useful_available=useful,
        noisy_available=len(examples) - useful,
        train=len(train),
        valid=len(valid),
        prompt_style=str(PROMPT_STYLE),
    )
    (out / "build.json").write_text(json.dumps(report.model_dump(mode="json"), indent=2))
    log.info(
        "build: %d train, %d valid examples (useful %d, noisy %d available)",
        len(train),
        len(valid),
        useful,
        len(examples) - useful,
    )
    return report
