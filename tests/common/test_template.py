"""The prompt template and tag parsing: only the model's own text counts, the last tag wins."""

from __future__ import annotations

import pytest

from zerosearch.common.template import (
    Action,
    build_prompt,
    extract_answer,
    extract_search,
    information_block,
    parse_action,
)


def test_prompt_carries_the_papers_tags_and_the_question() -> None:
    prompt = build_prompt("who wrote moby dick?", method="agent")
    for tag in ("<think>", "<search>", "</search>", "<information>", "<answer>", "</answer>"):
        assert tag in prompt
    assert prompt.endswith("Question: who wrote moby dick?\n")


def test_prompt_uses_the_chat_template_of_an_instruct_tokenizer(tokenizer) -> None:  # type: ignore[no-untyped-def]
    chat = build_prompt("q?", tokenizer=tokenizer)
    assert chat.startswith("<|im_start|>") and chat.endswith("<|im_start|>assistant\n")
    assert build_prompt("q?", tokenizer=tokenizer, chat=False) == build_prompt("q?")


def test_rag_prompt_holds_the_documents_and_direct_prompt_has_no_search() -> None:
    rag = build_prompt("q?", method="rag", documents="Doc 1: (Title: T) text")
    assert "<information>Doc 1: (Title: T) text</information>" in rag
    assert "<search>" not in build_prompt("q?", method="direct")


def test_the_prompts_example_answer_is_never_the_answer() -> None:
    prompt = build_prompt("what is the capital of china")
    assert extract_answer(prompt) == "Beijing"  # the example is there, in the prompt ...
    assert extract_answer("<think>not sure</think>") is None  # ... but the model's own text has none


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<answer> Paris </answer>", "Paris"),
        ("<answer>Lyon</answer> then <answer> Paris </answer>", "Paris"),  # the last one wins
        ("<answer>multi\nline</answer>", "multi\nline"),
        ("<answer>   </answer>", None),  # empty counts as missing
        ("<answer>Paris", None),  # never closed
        ("Paris</answer>", None),  # never opened
        ("", None),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<search> moby dick author </search>", "moby dick author"),
        ("<search>a</search> <search> b\n c </search>", "b c"),  # last wins, whitespace collapsed
        ("<search></search>", None),
        ("<search>open only", None),
    ],
)
def test_extract_search(text: str, expected: str | None) -> None:
    assert extract_search(text) == expected


@pytest.mark.parametrize(
    ("text", "allow_search", "expected"),
    [
        ("<think>x</think><search> q </search>", True, Action("search", "q")),
        ("<think>x</think><answer> a </answer>", True, Action("answer", "a")),
        ("<search> q </search><answer> a </answer>", True, Action("answer", "a")),  # closed last decides
        ("<answer> a </answer><search> q </search>", True, Action("search", "q")),
        ("<search> q </search>", False, Action("invalid")),  # the final turn may not search
        ("I think the answer is Paris.", True, Action("invalid")),
        ("<search>   </search>", True, Action("invalid")),
        ("<answer></answer>", True, Action("invalid")),
    ],
)
def test_parse_action(text: str, allow_search: bool, expected: Action) -> None:
    assert parse_action(text, allow_search=allow_search) == expected


def test_information_block_wraps_the_documents() -> None:
    assert information_block("Doc 1: x\n") == "\n\n<information>Doc 1: x</information>\n\n"
