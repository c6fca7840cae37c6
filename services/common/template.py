"""The paper's prompt template and the parsing of the policy's tags.

The policy reasons in ``<think>``, searches with ``<search> query </search>``, reads results inside
``<information>`` and answers in ``<answer> … </answer>`` (ZeroSearch §3, the Search-R1 template). The
loop parses only the text the MODEL generated, never the prompt, so the prompt's own example answer can
never be taken as the answer.

    prompt = build_prompt("who wrote moby dick", method="agent", tokenizer=tokenizer)
    action = parse_action(turn_text)          # Action(kind="search", content="moby dick author")
    answer = extract_answer(model_text)       # the last <answer> of the model's own text, or None
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = [
    "ANSWER_STOP",
    "INVALID_ACTION",
    "SEARCH_STOP",
    "Action",
    "answer_only_instruction",
    "build_prompt",
    "extract_answer",
    "extract_search",
    "information_block",
    "parse_action",
]

SEARCH_STOP = "</search>"
"""Stop string that ends a search turn."""

ANSWER_STOP = "</answer>"
"""Stop string that ends the answer turn."""

INVALID_ACTION = (
    "\nInvalid action: put a search query between <search> and </search>, "
    "or the final answer between <answer> and </answer>. Try again.\n"
)
"""Observation inserted after a turn that wrote neither a complete search nor a complete answer."""

_AGENT_INSTRUCTION = (
    "Answer the given question. Reason inside <think> and </think> first, and again every time you get "
    "new information. If some knowledge is missing, call the search engine by writing "
    "<search> query </search>; it returns the top results between <information> and </information>. "
    "You may search as many times as you need. When no more knowledge is needed, write the final answer "
    "between <answer> and </answer> without explanation, for example <answer> Beijing </answer>. "
    "Question: {question}\n"
)

_RAG_INSTRUCTION = (
    "Answer the given question using the documents below if they help. Reason inside <think> and "
    "</think>, then write the final answer between <answer> and </answer> without explanation, "
    "for example <answer> Beijing </answer>.\n<information>{documents}</information>\n"
    "Question: {question}\n"
)

_DIRECT_INSTRUCTION = (
    "Answer the given question. Reason inside <think> and </think>, then write the final answer between "
    "<answer> and </answer> without explanation, for example <answer> Beijing </answer>. "
    "Question: {question}\n"
)

# Non-greedy and DOTALL: a query or an answer may span lines; the LAST complete pair wins.
_SEARCH_RE = re.compile(r"<search>(.*?)</search>", re.DOTALL)
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


@dataclass(frozen=True)
class Action:
    """What one model turn asked for: a search, an answer, or nothing usable (invalid)."""

    kind: Literal["search", "answer", "invalid"]
    content: str = ""


def build_prompt(
    question: str,
    *,
    method: Literal["agent", "rag", "direct"] = "agent",
    tokenizer: PreTrainedTokenizerBase | None = None,
    documents: str | None = None,
    chat: bool | None = None,
) -> str:
    """The prompt text for one question; wrapped in the tokenizer's chat template when it has one.

    ``chat=None`` applies the chat template when the tokenizer defines one (instruct models) and leaves
    the plain text for base models, as Search-R1 does. ``documents`` is the ``Doc i:`` block for ``rag``.

    >>> build_prompt("who wrote moby dick").endswith("Question: who wrote moby dick\\n")
    True
    """
    question = question.strip()
    if method == "agent":
        text = _AGENT_INSTRUCTION.format(question=question)
    elif method == "rag":
        text = _RAG_INSTRUCTION.format(question=question, documents=documents or "")
    else:
        text = _DIRECT_INSTRUCTION.format(question=question)
    use_chat = chat if chat is not None else bool(tokenizer is not None and tokenizer.chat_template)
    if not use_chat or tokenizer is None:
        return text
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )


def information_block(formatted: str) -> str:
    """The text inserted after a search: the ``Doc i:`` lines inside ``<information>``."""
    return f"\n\n<information>{formatted.strip()}</information>\n\n"


def answer_only_instruction() -> str:
    """Inserted before the forced final turn: searching is over, answer now."""
    return "\nNo more searches are allowed. Write the final answer between <answer> and </answer>.\n"


def extract_search(text: str) -> str | None:
    """The query of the last complete ``<search>`` pair in ``text``; None when absent or empty."""
    found = _SEARCH_RE.findall(text)
    if not found:
        return None
    query = " ".join(found[-1].split())  # collapse newlines and runs of spaces a model may write
    return query or None


def extract_answer(text: str) -> str | None:
    """The last complete ``<answer>`` of ``text`` (the model's own text), stripped; None when absent.

    An empty ``<answer></answer>`` counts as no answer, so it scores like a missing one.

    >>> extract_answer("<answer> Paris </answer> then <answer>Lyon</answer>")
    'Lyon'
    """
    found = _ANSWER_RE.findall(text)
    if not found:
        return None
    answer = found[-1].strip()
    return answer or None


def parse_action(turn_text: str, *, allow_search: bool = True) -> Action:
    """Decide what one turn asked for from its own text (generation stops at the first closing tag).

    The tag that closes last decides: a turn that ends with ``</answer>`` answers, one that ends with
    ``</search>`` searches. With ``allow_search=False`` (the forced final turn) a search is invalid.
    """
    answer_end = turn_text.rfind(ANSWER_STOP)
    search_end = turn_text.rfind(SEARCH_STOP)
    if answer_end >= 0 and answer_end > search_end:
        answer = extract_answer(turn_text)
        if answer is not None:
            return Action("answer", answer)
    if allow_search and search_end >= 0:
        query = extract_search(turn_text)
        if query is not None:
            return Action("search", query)
    return Action("invalid")
