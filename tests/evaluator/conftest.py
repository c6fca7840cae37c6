"""Evaluator fixtures: the bundled policy (loaded once) and a scripted one (tests.utils.fakes)."""

from __future__ import annotations

import pytest

from tests.utils.fakes import ScriptedPolicy


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

    return ScriptedPolicy(tokenizer, lambda _turn, context: reply(context))


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
