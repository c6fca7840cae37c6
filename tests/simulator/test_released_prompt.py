"""The ``released`` prompt style: the exact input Alibaba-NLP/Simulation_LLM_*_V2 were fine-tuned on.

The expected text is written out here line by line from the reference (``search_simulate_sft`` in
``llm_agent/generation.py`` of Alibaba-NLP/ZeroSearch @ 2d4cdca), so any drift in our renderer fails.
"""

from __future__ import annotations

import logging

import pytest

from zerosearch.simulator.prompts import (
    Mode,
    PromptStyle,
    build_prompt,
    is_released_simulator,
    postprocess_released,
)
from zerosearch.simulator.settings import get_simulator_settings

USEFUL = (
    "You are the Google search engine.\n"
    "Given a query, you need to generate five useful documents for the query.\n"
    "\n"
    'The user is trying to answer the question: "Who wrote Moby-Dick?" whose answer is Herman Melville.\n'
    "Each document should contain about 30 words, and these documents should contain useful information.\n"
    "\n"
    "Query: moby dick author\n"
    "Useful Output:\n"
)


@pytest.fixture(scope="module")
def tokenizer(bundled_model_path: str):  # type: ignore[no-untyped-def]
    """The bundled model's tokenizer (no weights)."""
    from zerosearch.common.models import load_tokenizer

    return load_tokenizer(bundled_model_path)


NOISY = USEFUL.replace("useful", "noisy").replace("Useful Output:", "Noisy Output:")


@pytest.mark.parametrize(("mode", "expected"), [(Mode.USEFUL, USEFUL), (Mode.NOISY, NOISY)])
@pytest.mark.parametrize("k", [1, 5, 10])
def test_released_prompt_is_the_reference_text(mode: Mode, expected: str, k: int) -> None:
    prompt = build_prompt(
        "moby dick author", mode, question="Who wrote Moby-Dick?", answer="Herman Melville", k=k,
        style=PromptStyle.RELEASED,
    )  # fmt: skip
    # "five" whatever k is; an empty system turn; no assistant prefix.
    assert prompt.messages == [{"role": "system", "content": ""}, {"role": "user", "content": expected}]
    assert prompt.prefix == ""


def test_released_prompt_renders_token_for_token_with_an_empty_system_turn(tokenizer) -> None:  # type: ignore[no-untyped-def]
    # The bundled tokenizer uses ChatML like the Qwen2.5 base of the released weights.
    prompt = build_prompt(
        "moby dick author", "useful", question="Who wrote Moby-Dick?", answer="Herman Melville",
        style="released",
    )  # fmt: skip
    rendered = prompt.render(tokenizer)
    expected = (
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\n" + USEFUL + "<|im_end|>\n<|im_start|>assistant\n"
    )
    assert rendered == expected
    ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
    assert ids == tokenizer(expected, add_special_tokens=False)["input_ids"]
    assert tokenizer.convert_tokens_to_ids("<|im_start|>") == ids[0]


def test_released_output_is_post_processed_like_the_reference() -> None:
    text = "Doc 1: first document.\n\nDoc 2: second one.\n\nDoc 3: third one.\nDoc 4: fourth."
    assert postprocess_released(text, 2) == "Doc 1: first document.\nDoc 2: second one.\n"
    assert postprocess_released(text, 5) == text.replace("\n\n", "\n")


@pytest.mark.parametrize(
    ("model", "released"),
    [
        ("Alibaba-NLP/Simulation_LLM_google_14B_V2", True),
        ("Alibaba-NLP/Simulation_LLM_wiki_3B_V2", True),
        ("/models/Simulation_LLM_google_7B_V2", True),
        ("Alibaba-NLP/Simulation_LLM_google_14B", False),
        ("Qwen/Qwen2.5-3B-Instruct", False),
        ("smollm2-135m", False),
    ],
)
def test_released_style_is_chosen_for_the_released_hub_ids(model: str, released: bool) -> None:
    assert is_released_simulator(model) is released
    style = get_simulator_settings(model=model, engine="openai").prompt_style
    assert (style is PromptStyle.RELEASED) is released


def test_another_style_for_a_released_model_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        settings = get_simulator_settings(
            model="Alibaba-NLP/Simulation_LLM_google_3B_V2", engine="openai", prompt_style="tuned"
        )
    assert settings.prompt_style is PromptStyle.TUNED and "released" in caplog.text
