"""The per-call token budget fits k documents of ~30 words (the reference asks 600 new tokens for 5).

The fake engine writes k realistic documents and cuts them at the request's token budget with the bundled
tokenizer, as a real engine would; the real service then parses them. With the old 40-tokens-a-document
default the 5th document was cut or dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.common.servers import FakeEngine
from zerosearch.common.documents import Document, format_documents
from zerosearch.simulator.cache import ResponseCache
from zerosearch.simulator.engines.base import GenerationRequest
from zerosearch.simulator.metrics import SimulatorMetrics
from zerosearch.simulator.schemas import SearchParams
from zerosearch.simulator.service import SimulatorService
from zerosearch.simulator.settings import SimulatorSettings

# Thirty words each, in the shape the simulators write (title, then text).
_TEXT = (
    "The Eiffel Tower in Paris reaches 330 metres including its antennas, and it was built by "
    "Gustave Eiffel's engineering company as the entrance arch for the 1889 World's Fair grounds."
)


def _documents(k: int) -> list[Document]:
    return [Document(rank=i, title=f"Eiffel Tower, part {i}", text=_text(i)) for i in range(1, k + 1)]


def _text(i: int) -> str:
    """Thirty words, distinct per document (the parser drops duplicates)."""
    return _TEXT.replace("330", str(300 + i))


@pytest.fixture(scope="module")
def tokenizer(bundled_model_path: str):  # type: ignore[no-untyped-def]
    """The bundled model's tokenizer (no weights)."""
    from zerosearch.common.models import load_tokenizer

    return load_tokenizer(bundled_model_path)


def _writer(tokenizer: Any):  # type: ignore[no-untyped-def]
    def write(request: GenerationRequest) -> tuple[str, bool]:
        k = int(request.stop[0].split()[1].rstrip(":")) - 1  # the service stops at "Doc {k+1}"
        text = format_documents(_documents(k)).removeprefix(request.prompt.prefix)  # the prompt wrote it
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        cut = len(ids) > request.max_new_tokens
        return tokenizer.decode(ids[: request.max_new_tokens]), cut

    return write


def test_thirty_word_documents_fit_the_budget(tokenizer: Any) -> None:
    assert len(_TEXT.split()) == 30
    settings = SimulatorSettings()
    assert settings.new_tokens_for(5) == 600  # the reference's budget for its five documents
    for k in (1, 5, 10, 20):
        needed = len(tokenizer(format_documents(_documents(k)), add_special_tokens=False)["input_ids"])
        assert needed <= settings.new_tokens_for(k), (k, needed, settings.new_tokens_for(k))


@pytest.mark.parametrize("k", [3, 5, 10])
def test_every_requested_document_survives_the_budget(tokenizer: Any, k: int) -> None:
    settings = SimulatorSettings(redis_url=None)
    engine = FakeEngine(settings, _writer(tokenizer))
    service = SimulatorService(
        settings, engine, ResponseCache(None, ttl_s=60, timeout_s=0.1, metrics=SimulatorMetrics()),
        SimulatorMetrics(),
    )  # fmt: skip
    [result] = asyncio.run(service.search_many([SearchParams(q="eiffel tower height", k=k)]))
    assert result.warning is None, result.warning
    assert [d.text for d in result.documents] == [_text(i) for i in range(1, k + 1)]
