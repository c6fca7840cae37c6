"""Cold start: a short SFT (TRL SFTTrainer) on format demonstrations before GRPO.

Small policies never write ``<search>`` by themselves (the bundled 135M model does not), so RL would see
no search at all. Each demonstration is built from a training question and real documents:

    <prompt: the agent template + question>
    <think> … </think> <search> question as query </search>
    <information> Doc 1 … Doc k </information>                 ← from the configured backend, MASKED
    <think> … </think> <answer> first gold answer </answer><eos>

The set is pre-tokenized part by part with a ``completion_mask`` (0 on the prompt and on the inserted
documents, 1 on what the model should write), and ``completion_only_loss=True`` makes TRL turn that mask
into labels (-100 elsewhere): the documents stay out of the SFT loss, as ``<information>`` stays out of
the RL loss.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from zerosearch.common.documents import format_documents
from zerosearch.common.errors import ConfigError, DatasetError
from zerosearch.common.metrics import contains_answer
from zerosearch.common.models import load_tokenizer, resolve_model
from zerosearch.common.search.base import SearchBackend, SearchRequest
from zerosearch.common.search.bm25 import BM25Backend
from zerosearch.common.search.factory import make_backend
from zerosearch.common.settings import get_common_settings
from zerosearch.common.template import answer_only_instruction, build_prompt, information_block
from zerosearch.common.trajectory import QAItem
from zerosearch.trainer.config import TrainConfig
from zerosearch.trainer.run_dir import RunDir

__all__ = ["build_demonstrations", "demo_backend", "demo_query", "demonstration_parts", "run_cold_start"]

log = logging.getLogger(__name__)


def demo_query(item: QAItem) -> str:
    """The demonstration's search query: the question itself, a sensible first search."""
    return " ".join(item.question.strip().rstrip("?").split())


def demonstration_parts(
    item: QAItem, documents: str, *, forced_answer: bool = False, answer: str | None = None
) -> list[tuple[str, bool]]:
    """The completion of one demonstration as (text, trained) parts; documents are not trained on.

    ``forced_answer`` mirrors the agent loop when its search turns are used up (max_turns 1 after this
    one search): the loop then inserts the answer-only instruction before the answer turn, so the
    demonstration shows it too (inserted, not trained). ``answer`` defaults to the first gold answer.
    """
    query = demo_query(item)
    answer = answer if answer is not None else item.golden_answers[0]
    parts = [
        (f"<think> I need to look this up. </think>\n<search> {query} </search>", True),
        (information_block(documents), False),
    ]
    if forced_answer:
        parts.append((answer_only_instruction(), False))
    parts.append((f"<think> The documents give the answer. </think>\n<answer> {answer} </answer>", True))
    return parts


def demo_backend(config: TrainConfig) -> SearchBackend:
    """The backend that supplies demonstration documents (bm25 over the corpus, or the simulator)."""
    if config.cold_start.search == "simulator":
        return make_backend("simulator", url=config.simulator_url, **config.search_retry.model_dump())

    corpus = config.cold_start.corpus
    if corpus is None:
        data_dir = config.data_dir or get_common_settings().data_dir
        corpus = Path(data_dir) / "corpus" / "wiki_mini.jsonl" if data_dir else None
    if corpus is None or not Path(corpus).is_file():
        raise ConfigError(
            f"cold_start.corpus not found: {corpus} (set cold_start.corpus)", param="cold_start.corpus"
        )
    return BM25Backend(corpus)


def build_demonstrations(
    items: list[QAItem],
    backend: SearchBackend,
    tokenizer: Any,
    *,
    top_k: int,
    max_length: int,
    forced_answer: bool = False,
    answer_in_documents: bool = False,
    limit: int | None = None,
) -> list[dict[str, list[int]]]:
    """Pre-tokenized demonstrations: ``input_ids`` and ``completion_mask`` (1 = trained token), at most
    ``limit``.

    A demonstration longer than ``max_length`` loses document text, never its trained tail: cutting the
    end would drop the ``<answer>`` the cold start exists to teach. With ``answer_in_documents`` only
    questions whose (shortened) documents contain a gold answer become demonstrations, answering with the
    gold found there: the policy is shown copying the answer from the documents, never answering from
    documents that do not hold it.
    """
    requests = [SearchRequest(query=demo_query(item), k=top_k, question=item.question) for item in items]
    results = backend.search_batch(requests)
    rows: list[dict[str, list[int]]] = []
    for item, result in zip(items, results, strict=True):
        if limit is not None and len(rows) >= limit:
            break
        prompt_ids = tokenizer.encode(
            build_prompt(item.question, tokenizer=tokenizer), add_special_tokens=False
        )
        documents = format_documents(result.documents)
        parts = _encode_parts(tokenizer, demonstration_parts(item, documents, forced_answer=forced_answer))
        excess = len(prompt_ids) + sum(len(ids) for ids, _ in parts) + 1 - max_length
        if excess > 0:  # shorten the documents (masked) by what does not fit
            doc_ids = tokenizer.encode(documents, add_special_tokens=False)
            keep = len(doc_ids) - excess - 8  # a few tokens of slack: re-tokenizing may shift by one or two
            if keep <= 0:
                log.warning("cold start: %r does not fit max_length=%d; skipped", item.id, max_length)
                continue
            documents = tokenizer.decode(doc_ids[:keep], skip_special_tokens=True)
            parts = _encode_parts(
                tokenizer, demonstration_parts(item, documents, forced_answer=forced_answer)
            )
        if answer_in_documents:
            found = [gold for gold in item.golden_answers if contains_answer(documents, [gold])]
            if not found:
                continue
            parts = _encode_parts(
                tokenizer, demonstration_parts(item, documents, forced_answer=forced_answer, answer=found[0])
            )
        ids, mask = list(prompt_ids), [0] * len(prompt_ids)
        for (
            part,
            trained,
        ) in parts:  # each part on its own, as the agent loop tokenizes model and inserted text
            ids += part
            mask += [int(trained)] * len(part)
        ids.append(tokenizer.eos_token_id)
        mask.append(1)  # learn to stop after </answer>
        rows.append({"input_ids": ids[:max_length], "completion_mask": mask[:max_length]})
    if items and not rows and answer_in_documents:
        raise DatasetError(
            f"cold_start.answer_in_documents: none of {len(items)} questions has a gold answer in its "
            "top-k documents; give more training questions or turn it off",
            param="cold_start.answer_in_documents",
        )
    if items and not rows:
        raise ConfigError(
            f"cold_start.max_length={max_length} is too short for any demonstration (prompt, search, "
            "answer and a few document tokens); raise it",
            param="cold_start.max_length",
        )
    return rows


def _encode_parts(tokenizer: Any, parts: list[tuple[str, bool]]) -> list[tuple[list[int], bool]]:
    return [(tokenizer.encode(text, add_special_tokens=False), trained) for text, trained in parts]


def run_cold_start(config: TrainConfig, run_dir: RunDir, items: list[QAItem]) -> Path:
    """SFT the policy on demonstrations; returns the model folder (reused when a run resumes)."""
    target = run_dir.cold_start_dir
    if (target / "config.json").is_file():
        log.info("cold start already done: %s", target)
        return target
    # Heavy dependency (datasets): imported on use, so importing this module stays light.
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    settings = config.cold_start
    model_path = resolve_model(config.model)
    tokenizer = load_tokenizer(model_path, padding_side="right")
    backend = demo_backend(config)
    chosen = [item for item in items if item.golden_answers]
    if not settings.answer_in_documents:  # every searched question becomes a demonstration
        chosen = chosen[: settings.examples]
    rows = build_demonstrations(
        chosen,
        backend,
        tokenizer,
        top_k=settings.top_k,
        max_length=settings.max_length,
        forced_answer=config.rollout.max_turns == 1,  # the loop's answer-only turn follows the first search
        answer_in_documents=settings.answer_in_documents,
        limit=settings.examples,
    )
    log.info("cold start: SFT on %d demonstrations for %s epochs", len(rows), settings.epochs)
    args = SFTConfig(
        output_dir=str(run_dir.root / "cold_start_work"),
        num_train_epochs=settings.epochs,
        learning_rate=settings.learning_rate,
        per_device_train_batch_size=settings.batch_size,
        max_length=settings.max_length,
        completion_only_loss=True,  # completion_mask → labels: prompt and documents out of the loss
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        bf16=config.bf16,
        gradient_checkpointing=config.gradient_checkpointing,  # TRL turns it on by default: slow on CPU
        seed=config.seed,
    )
    trainer = SFTTrainer(
        model=model_path, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer
    )
    from zerosearch.trainer.scoring import label_positions_only  # imports torch: on use, as above

    label_positions_only(trainer.model)  # CPU: the LM head over the ~12% trained positions only
    trainer.train()  # under a launcher: data-parallel SFT over every rank
    from zerosearch.trainer.ranked import publish_model  # imports transformers: on use, as above

    # A killed SFT never leaves a half-written model that looks finished; rank 0 writes.
    publish_model(trainer, tokenizer, target)
    return target
