"""The simulator protocol is written once: server, client and tuning share its models and its enum."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from zerosearch.common.search import protocol
from zerosearch.common.search.protocol import BatchSearchRequest, SearchParams, Usefulness
from zerosearch.simulator import prompts, schemas
from zerosearch.tuning.config import Label


def test_server_and_tuning_reuse_the_protocol() -> None:
    for name in ("SearchParams", "SearchResponse", "BatchSearchRequest", "BatchSearchResponse", "MAX_SEED"):
        assert getattr(schemas, name) is getattr(protocol, name)
    assert prompts.Mode is Usefulness and Label is Usefulness
    assert [m.value for m in Usefulness] == ["useful", "noisy"]


def test_a_client_body_round_trips() -> None:
    body = BatchSearchRequest(requests=[SearchParams(q=" moby dick ", seed=3, mode="noisy")])
    sent = body.model_dump(mode="json", exclude_none=True)
    assert sent == {
        "requests": [{"q": "moby dick", "noise": 0.0, "k": 5, "seed": 3, "mode": "noisy", "cache": False}]
    }
    assert BatchSearchRequest.model_validate(sent) == body


@pytest.mark.parametrize(
    "bad", [{"q": " "}, {"q": "x", "seed": 2**63}, {"q": "x", "mode": "real"}, {"q": "x", "z": 1}]
)
def test_the_protocol_refuses_what_the_server_refuses(bad: dict) -> None:
    with pytest.raises(ValidationError):
        SearchParams(**bad)
