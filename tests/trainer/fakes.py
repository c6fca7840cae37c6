"""Stand-ins at the two seams the trainer has: a scripted Policy and a recording SearchBackend.

The scripted policy reads the question back from its prompt (as a real model would see it) and writes
a search for it, then an answer; the backend records every request it receives. Together they let a
test check, sample by sample, that a search carried its own trajectory's question and gold answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from zerosearch.common.documents import Document
from zerosearch.common.policy import Generation, Policy
from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult

__all__ = ["RecordingBackend", "ScriptedPolicy"]

_QUESTION = re.compile(r"Question: (.*?)\n")


class ScriptedPolicy(Policy):
    """Searches ``search <question>`` on the first turn and answers ``answer_for(question)`` afterwards."""

    def __init__(self, tokenizer, answer_for: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
        self.tokenizer = tokenizer
        self.answer_for = answer_for
        self.generated: list[list[int]] = []  # every continuation, in call order

    def generate(self, prompts, *, max_new_tokens, stop, temperature, top_p, seed=None):  # type: ignore[no-untyped-def]
        """Write a search while ``</search>`` may stop the turn, else an answer."""
        out = []
        for ids in prompts:
            text = self.tokenizer.decode(ids)
            question = _QUESTION.findall(text)[-1].strip()
            searched = "<information>Doc" in text  # the template itself mentions <information>
            if "</search>" in stop and not searched:
                reply = f"<think> I should search. </think>\n<search> facts about {question} </search>"
            else:
                reply = f"<think> Done. </think>\n<answer> {self.answer_for(question)} </answer>"
            new = self.tokenizer.encode(reply, add_special_tokens=False)[:max_new_tokens]
            self.generated.append(new)
            out.append(Generation(ids=new, text=self.tokenizer.decode(new), stop=None))
        return out


class RecordingBackend(SearchBackend):
    """Returns one document echoing the request and records every request it got."""

    name = "recording"

    def __init__(self) -> None:
        super().__init__(retries=1)
        self.requests: list[SearchRequest] = []

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        self.requests.append(request)
        doc = Document(rank=1, title="Echo", text=f"A passage about {request.query}.")
        return SearchResult(
            query=request.query, documents=[doc], formatted=f"Doc 1: {doc.text}", mode="useful"
        )
