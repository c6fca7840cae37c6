"""Evaluator fixtures: the bundled policy (loaded once), and fakes at the Policy / SearchBackend seams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from zerosearch.common.documents import Document
from zerosearch.common.policy import Generation, Policy
from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult


class ScriptedPolicy(Policy):
    """A fake policy engine for unit tests: ``reply(context_text)`` gives the continuation to emit.

    It uses the real bundled tokenizer, so ids and texts are consistent as the agent loop expects.
    """

    def __init__(self, tokenizer: Any, reply: Callable[[str], str]) -> None:
        self.tokenizer = tokenizer
        self.reply = reply
        self.calls = 0

    def generate(self, prompts, *, max_new_tokens, stop, temperature, top_p, seed=None):  # type: ignore[no-untyped-def]
        out = []
        for prompt in prompts:
            self.calls += 1
            text = self.reply(self.tokenizer.decode(prompt))
            hit = None
            for s in stop:  # cut after the first stop string, as real engines do
                if s in text and (hit is None or text.index(s) < text.index(hit)):
                    hit = s
            if hit is not None:
                text = text[: text.index(hit) + len(hit)]
            ids = self.tokenizer.encode(text, add_special_tokens=False)[:max_new_tokens]
            out.append(Generation(ids=ids, text=self.tokenizer.decode(ids), stop=hit))
        return out


class FixedBackend(SearchBackend):
    """A fake search engine: k documents that echo the query; ``fail`` makes every call fail."""

    name = "fixed"

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__(retries=1, backoff_s=0.0)
        self.fail = fail
        self.requests: list[SearchRequest] = []

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        self.requests.append(request)
        if self.fail:
            raise httpx.ConnectError("engine down")  # a transport failure: retried, then counted
        docs = [
            Document(rank=i, title=f"T{i}", text=f"about {request.query}") for i in range(1, request.k + 1)
        ]
        return SearchResult(query=request.query, documents=docs, formatted=f"Doc 1: about {request.query}")


@pytest.fixture(scope="session")
def tokenizer(bundled_model_path: str):  # type: ignore[no-untyped-def]
    """The bundled model's tokenizer (cheap; no weights)."""
    from zerosearch.common.models import load_tokenizer

    return load_tokenizer(bundled_model_path)


@pytest.fixture
def scripted_policy(tokenizer):  # type: ignore[no-untyped-def]
    """Searches 'capital city' once, then answers "Paris, France" (a fixed, known script)."""

    def reply(context: str) -> str:
        if "<information>" in context.split("Question:")[-1]:
            return "<think>found it</think> <answer> Paris, France </answer> trailing"
        return "<think>need facts</think> <search> capital city </search>"

    return ScriptedPolicy(tokenizer, reply)


@pytest.fixture(scope="session")
def bundled_policy(bundled_model_path: str):  # type: ignore[no-untyped-def]
    """The real bundled SmolLM2-135M behind the transformers engine, loaded once per session."""
    import torch

    from zerosearch.common.policies.transformers import TransformersPolicy

    # One intra-op thread: helpers share 2 cores, and OpenMP threads spinning against other processes made
    # a 16-token generation 20x slower (44 s vs 2 s measured). The eval config's cpu_threads does the same.
    torch.set_num_threads(1)
    policy = TransformersPolicy.from_pretrained(bundled_model_path, device="cpu")
    yield policy
    policy.close()
