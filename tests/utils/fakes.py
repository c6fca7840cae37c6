"""The fakes of the test suite, at the two seams the agent loop has: a scripted Policy and an echoing
SearchBackend. Every test that needs one imports it from here.

    policy = ScriptedPolicy(tokenizer, lambda turn, context: "<search> moby dick </search>")
    backend = EchoBackend()                                  # one document "about <query>" per call
    backend = EchoBackend(fail=httpx.ConnectError("down"))   # every attempt fails like a dead server
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from zerosearch.common.documents import Document, format_documents
from zerosearch.common.policy import Generation, Policy
from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult

__all__ = ["EchoBackend", "QuestionPolicy", "Script", "ScriptedPolicy"]

_QUESTION = re.compile(r"Question: (.*?)\n")

Script = Callable[[int, str], str]
"""``script(turn, context_text)`` → the continuation to emit (turn counts generate calls from 1)."""


class ScriptedPolicy(Policy):
    """A policy engine that writes ``script(turn, context)``, tokenized by the real tokenizer and cut after
    the first stop string, as real engines do; it records every batch size and continuation."""

    def __init__(self, tokenizer: Any, script: Script) -> None:
        self.tokenizer = tokenizer
        self.script = script
        self.turn = 0
        self.calls: list[int] = []  # prompts per generate call
        self.generated: list[list[int]] = []  # every continuation's ids, in call order
        self.stop: list[str] = []

    def generate(  # type: ignore[override]
        self, prompts, *, max_new_tokens, stop, temperature, top_p, seed=None
    ) -> list[Generation]:  # type: ignore[no-untyped-def]
        """One scripted continuation per prompt."""
        self.turn += 1
        self.stop = list(stop)  # what this call may stop on (a script may look: is a search allowed?)
        self.calls.append(len(prompts))
        out = []
        for prompt in prompts:
            text = self.script(self.turn, self.tokenizer.decode(prompt))
            hits = [s for s in stop if s in text]
            hit = min(hits, key=text.index) if hits else None
            if hit is not None:
                text = text[: text.index(hit) + len(hit)]
            ids = self.tokenizer.encode(text, add_special_tokens=False)[:max_new_tokens]
            self.generated.append(ids)
            out.append(Generation(ids=ids, text=self.tokenizer.decode(ids), stop=hit))
        return out


class QuestionPolicy(ScriptedPolicy):
    """Reads the question back from its prompt (as a real model sees it): searches ``facts about
    <question>`` while a search may end the turn, then answers ``answer_for(question)``."""

    def __init__(self, tokenizer: Any, answer_for: Callable[[str], str]) -> None:
        super().__init__(tokenizer, self._reply)
        self.answer_for = answer_for

    def _reply(self, turn: int, context: str) -> str:
        question = _QUESTION.findall(context)[-1].strip()
        searched = "<information>Doc" in context  # the template itself mentions <information>
        if "</search>" in self.stop and not searched:
            return f"<think> I should search. </think>\n<search> facts about {question} </search>"
        return f"<think> Done. </think>\n<answer> {self.answer_for(question)} </answer>"


class EchoBackend(SearchBackend):
    """A search engine that answers ``docs`` documents "about <query>" (title T) and records every request
    and every batch; ``fail`` is raised by every attempt instead (retried and counted as real failures)."""

    name = "echo"

    def __init__(
        self,
        *,
        docs: int = 1,
        fail: Exception | None = None,
        mode: Literal["useful", "noisy", "real"] = "useful",
        retries: int = 1,
        backoff_s: float = 0.0,
    ) -> None:
        super().__init__(retries=retries, backoff_s=backoff_s)
        self.docs, self.fail, self.mode = docs, fail, mode
        self.requests: list[SearchRequest] = []
        self.batches: list[int] = []

    async def search_many(self, requests: list[SearchRequest]) -> list[SearchResult]:
        """Record the batch size, then search each request."""
        self.batches.append(len(requests))
        return await super().search_many(requests)

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        self.requests.append(request)
        if self.fail is not None:
            raise self.fail
        count = min(self.docs, request.k)
        docs = [Document(rank=i, title="T", text=f"about {request.query}") for i in range(1, count + 1)]
        return SearchResult(
            query=request.query, documents=docs, formatted=format_documents(docs), mode=self.mode
        )
