"""The LLM judge of the ``judge`` label rule (the paper's v2): does a document hold enough to answer?

Two judges behind one interface:

- :class:`HTTPJudge` asks an OpenAI-compatible ``/chat/completions`` endpoint (vLLM, llama.cpp server,
  OpenAI) and reads a yes/no reply; ``check()`` probes it first so a judge that is down fails before any
  labelling starts.
- :class:`LocalJudge` runs a local causal LM and compares the next-token scores of "yes" and "no", so
  every document gets a verdict even from a small model that would not follow a format.

    judge = make_judge(LabelConfig(rule="judge", judge_url="http://127.0.0.1:8001/v1", judge_model="qwen"))
    judge.check()
    judge.judge([("who wrote moby dick", ["Herman Melville"], "Moby-Dick", "A novel by Herman Melville.")])
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any

import httpx

from zerosearch.common.defaults import SEARCH_RETRIES
from zerosearch.common.errors import EngineError
from zerosearch.common.models import load_causal_lm
from zerosearch.common.retry import UPSTREAM_ERRORS, RetryPolicy, upstream_error
from zerosearch.common.search.base import run_sync
from zerosearch.tuning.config import LabelConfig

__all__ = ["HTTPJudge", "Judge", "JudgeItem", "LocalJudge", "judge_messages", "make_judge", "parse_verdict"]

log = logging.getLogger(__name__)

JudgeItem = tuple[str, list[str], str, str]
"""(question, gold answers, document title, document text)."""

_SYSTEM = (
    "You grade search results. Given a question, its correct answer and one document, reply with a single "
    "word: yes if the document alone holds enough information to answer the question correctly, "
    "otherwise no."
)


def judge_messages(item: JudgeItem) -> list[dict[str, str]]:
    """The chat messages that ask for one verdict."""
    question, golds, title, text = item
    answer = " / ".join(golds) if golds else "(unknown)"
    body = f"Question: {question}\nCorrect answer: {answer}\nDocument: {title}. {text}\nYes or no?"
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": body}]


def parse_verdict(reply: str) -> bool | None:
    """True for yes, False for no, None when the reply is neither."""
    words = reply.strip().lower().lstrip("*\"' ").split()
    if not words:
        return None
    first = words[0].strip(".,:;!*\"'")
    return True if first == "yes" else False if first == "no" else None


class Judge(ABC):
    """Decides per document whether it is useful for the question."""

    def check(self) -> None:
        """Raise EngineError when the judge cannot answer at all (default: nothing to check)."""

    @abstractmethod
    def judge(self, items: list[JudgeItem]) -> list[bool]:
        """One verdict per item, in order (True = useful)."""


class HTTPJudge(Judge):
    """A judge behind an OpenAI-compatible chat/completions endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        concurrency: int = 4,
        retries: int = SEARCH_RETRIES,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self.policy = RetryPolicy(retries=retries, what=f"judge request to {self.url}")
        self.unparsed = 0  # replies that were neither yes nor no (counted as noisy)

    async def _ask(self, client: httpx.AsyncClient, item: JudgeItem) -> str:
        payload = {"model": self.model, "messages": judge_messages(item), "temperature": 0.0, "max_tokens": 4}
        attempts = 0

        async def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            response = await client.post(self.url, json=payload, headers=self.headers)
            return response.raise_for_status()

        try:
            response = await self.policy.acall(attempt)
        except UPSTREAM_ERRORS as exc:
            raise upstream_error(exc, "judge endpoint", EngineError, url=self.url, attempts=attempts) from exc
        try:
            return str(response.json()["choices"][0]["message"]["content"] or "")
        except (ValueError, KeyError, IndexError, TypeError) as exc:  # the reply's shape, not our code
            raise EngineError(
                f"judge endpoint {self.url} answered an unknown shape: {response.text[:200]}"
            ) from exc

    async def _ask_all(self, items: list[JudgeItem]) -> list[str]:
        limit = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:

            async def one(item: JudgeItem) -> str:
                async with limit:
                    return await self._ask(client, item)

            return list(await asyncio.gather(*(one(i) for i in items)))

    def check(self) -> None:
        """One probe verdict: an unreachable or broken endpoint raises EngineError naming the URL."""
        payload = {
            "model": self.model,
            "messages": judge_messages(("probe", ["probe"], "probe", "probe")),
            "max_tokens": 1,
        }
        try:
            with httpx.Client(timeout=min(self.timeout_s, 30.0)) as client:
                client.post(self.url, json=payload, headers=self.headers).raise_for_status()
        except UPSTREAM_ERRORS as exc:
            raise upstream_error(exc, "judge endpoint", EngineError, url=self.url) from exc

    def judge(self, items: list[JudgeItem]) -> list[bool]:
        """Ask the endpoint for every item; an unparseable reply counts as noisy (and is counted)."""
        replies = run_sync(self._ask_all(items))
        verdicts = [parse_verdict(r) for r in replies]
        self.unparsed += sum(v is None for v in verdicts)
        if self.unparsed:
            log.warning(
                "judge: %d of %d replies were neither yes nor no (labelled noisy)", self.unparsed, len(items)
            )
        return [bool(v) for v in verdicts]


class LocalJudge(Judge):
    """A local causal LM: the verdict is whichever of "yes"/"no" scores higher as the next token."""

    def __init__(self, model_spec: str, *, batch_size: int = 8) -> None:

        self.model, self.tokenizer = load_causal_lm(model_spec)
        self.batch_size = batch_size
        self.yes_ids = self._first_ids(["yes", "Yes", " yes", " Yes"])
        self.no_ids = self._first_ids(["no", "No", " no", " No"])

    def _first_ids(self, words: list[str]) -> list[int]:
        return sorted({self.tokenizer.encode(w, add_special_tokens=False)[0] for w in words})

    def _prompt(self, item: JudgeItem) -> str:
        messages = judge_messages(item)
        if self.tokenizer.chat_template:
            return str(
                self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            )
        return "\n".join(m["content"] for m in messages) + "\nAnswer:"

    def judge(self, items: list[JudgeItem]) -> list[bool]:
        """Score every item in batches; no sampling, so the verdicts are reproducible."""
        # Heavy dependency (torch): imported on use, so importing this module stays light.
        import torch

        verdicts: list[bool] = []
        for start in range(0, len(items), self.batch_size):
            prompts = [self._prompt(i) for i in items[start : start + self.batch_size]]
            batch: Any = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            batch = batch.to(self.model.device)
            with torch.no_grad():
                logits = self.model(**batch).logits[:, -1, :]  # (batch, vocab): left padding ends each row
            yes = torch.logsumexp(logits[:, self.yes_ids], dim=-1)
            no = torch.logsumexp(logits[:, self.no_ids], dim=-1)
            verdicts.extend(bool(v) for v in (yes > no).tolist())
        return verdicts


def make_judge(config: LabelConfig) -> Judge:
    """The judge ``config`` asks for: HTTP when ``judge_url`` is set, else a local model."""
    if config.judge_url:
        return HTTPJudge(
            config.judge_url,
            config.judge_model,
            api_key=config.judge_api_key,
            timeout_s=config.judge_timeout_s,
            concurrency=config.judge_concurrency,
        )
    return LocalJudge(config.judge_model)
