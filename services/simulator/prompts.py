"""The simulation prompts: what the LLM that plays the search engine is asked to write.

Two styles (ZeroSearch, arXiv 2505.04588, the simulator's prompts):

- ``tuned``: the fine-tuned simulator prompt, for simulation-tuned models. One user message that says
  "you are a search engine, write k useful|noisy documents for this query", names the question and its
  answer when given, and ends with ``Useful Output:`` / ``Noisy Output:``. The simulation-tuning pipeline
  builds its SFT pairs with exactly these functions: ``build_messages(...)`` → prompt and
  ``build_completion(documents)`` → target.
- ``released``: the exact input the released ``Alibaba-NLP/Simulation_LLM_*_V2`` weights were fine-tuned
  on (reference code: ``search_simulate_sft`` in ``llm_agent/generation.py`` of Alibaba-NLP/ZeroSearch):
  an *empty* system turn, then one user turn of fixed lines that always ask for "five" documents,
  ending with ``Useful Output:`` / ``Noisy Output:`` and a newline. The output is post-processed as the reference does: blank lines become single newlines, then it is cut at
  ``Doc {k+1}`` (:func:`postprocess_released`). Chosen automatically for those hub ids.
- ``prompt-only``: for untuned instruct models such as the bundled SmolLM2-135M-Instruct. A system line,
  a one-shot demonstration of five ``Doc i:`` documents (useful or noisy), then the query; the noisy
  variant omits question and answer (as in the paper). The assistant turn is pre-filled with ``Doc 1:``
  because a 135M model otherwise chats about the query instead of writing documents.

    prompt = build_prompt("who wrote moby dick", Mode.USEFUL, question="Who wrote Moby-Dick?",
                          answer="Herman Melville", k=5, style=PromptStyle.PROMPT_ONLY)
    text = prompt.render(tokenizer)          # chat template + assistant prefix
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from zerosearch.common.defaults import DEFAULT_TOP_K
from zerosearch.common.documents import Document, format_documents
from zerosearch.common.search.protocol import Usefulness

__all__ = [
    "Mode",
    "PromptStyle",
    "SimulationPrompt",
    "build_completion",
    "build_messages",
    "build_prompt",
    "is_released_simulator",
    "postprocess_released",
]


Mode = Usefulness
"""Whether a search call returns useful or noisy documents (one draw per call): the protocol's enum."""


class PromptStyle(StrEnum):
    """Which simulation prompt to use."""

    TUNED = "tuned"
    """The fine-tuned simulator prompt (simulation-tuned models)."""
    PROMPT_ONLY = "prompt-only"
    """One-shot demonstration prompt for untuned instruct models (the bundled default)."""
    RELEASED = "released"
    """The input format the released ``Alibaba-NLP/Simulation_LLM_*_V2`` weights were tuned on."""


_RELEASED_MODEL = re.compile(r"(?:^|/)Simulation_LLM_[A-Za-z0-9]+_[0-9.]+B_V2/?$", re.IGNORECASE)


def is_released_simulator(model: str) -> bool:
    """True for the released simulators, e.g. ``Alibaba-NLP/Simulation_LLM_google_14B_V2`` (or a local copy
    whose folder keeps that name)."""
    return bool(_RELEASED_MODEL.search(model.strip()))


@dataclass(frozen=True)
class SimulationPrompt:
    """Chat messages plus the text the assistant turn starts with (the generation continues it)."""

    messages: list[dict[str, str]]
    prefix: str = ""

    def render(self, tokenizer: Any) -> str:
        """The full prompt text: the tokenizer's chat template, the assistant header, then ``prefix``."""
        text = tokenizer.apply_chat_template(self.messages, tokenize=False, add_generation_prompt=True)
        return str(text) + self.prefix


_TUNED_TASK = {
    Mode.USEFUL: "Write {k} useful documents for the search query below: documents that help answer it.",
    Mode.NOISY: "Write {k} noisy documents for the search query below: documents that look related "
    "but do not help answer it, or mislead.",
}
_TUNED_CONDITION = {
    Mode.USEFUL: 'The user is trying to answer the question "{question}", whose answer is "{answer}".',
    Mode.NOISY: 'The user is trying to answer the question "{question}", whose answer is "{answer}"; '
    "the documents must not give that answer.",
}

_SYSTEM = (
    "You are a search engine. For each query you return short web documents, one a line, written as "
    "Doc i: (Title: <title>) <text of about 30 words>."
)
# One demonstration query answered in each mode. The useful documents state the answer; the noisy ones
# stay on the topic but never give it, which is what "noisy" means in the paper.
_DEMO_QUERY = "height of the eiffel tower"
_DEMO_QUESTION = "How tall is the Eiffel Tower?"
_DEMO_ANSWER = "330 metres"
_DEMO_DOCUMENTS = {
    Mode.USEFUL: [
        (
            "Eiffel Tower",
            "The Eiffel Tower in Paris is 330 metres tall including its antennas. It was "
            "built by Gustave Eiffel's company for the 1889 World's Fair.",
        ),
        (
            "Eiffel Tower facts",
            "Standing 330 m high, the wrought-iron tower was the tallest structure in "
            "the world until the Chrysler Building was finished in 1930.",
        ),
        (
            "Visiting the tower",
            "Lifts take visitors to the top platform, 276 metres above the ground, "
            "just below the 330-metre tip of the antennas.",
        ),
        (
            "Paris landmarks",
            "The Eiffel Tower, 330 metres high, is the tallest building in Paris and "
            "draws about seven million visitors a year.",
        ),
        (
            "Tower growth",
            "Its height was 300 metres in 1889; antennas added over the years brought the "
            "Eiffel Tower to 330 metres in 2022.",
        ),
    ],
    Mode.NOISY: [
        (
            "Eiffel Tower restaurants",
            "The tower hosts two restaurants, and tables at the Jules Verne on "
            "the second floor are booked months ahead.",
        ),
        (
            "Gustave Eiffel",
            "Gustave Eiffel was a French engineer who also designed the internal frame "
            "of the Statue of Liberty in New York.",
        ),
        (
            "Tokyo Tower",
            "Tokyo Tower, painted white and orange, was inspired by the Eiffel Tower and "
            "opened in 1958 as a broadcasting antenna.",
        ),
        (
            "Paint on the tower",
            "The tower is repainted every seven years, which takes about 60 tonnes "
            "of paint and a team of 25 painters.",
        ),
        (
            "Paris travel tips",
            "The best time to visit Paris is in spring, when the gardens near the "
            "Champ de Mars are in bloom.",
        ),
    ],
}


def _demo(mode: Mode) -> str:
    """The demonstration answer in the ``Doc i: (Title: ...) ...`` shape."""
    docs = [Document(rank=i, title=t, text=x) for i, (t, x) in enumerate(_DEMO_DOCUMENTS[mode], 1)]
    return format_documents(docs)


def _user_message(query: str, mode: Mode, question: str | None, answer: str | None, k: int) -> str:
    """The prompt-only request; noisy omits question and answer (the paper's prompt-only variant)."""
    lines = [f"Query: {query}"]
    if mode is Mode.USEFUL and question:
        lines.insert(0, f"Question: {question}" + (f"\nAnswer: {answer}" if answer else ""))
    lines.append(f"Write {k} {mode.value} documents.")
    return "\n".join(lines)


def _tuned_message(query: str, mode: Mode, question: str | None, answer: str | None, k: int) -> str:
    """The fine-tuned simulator prompt text."""
    parts = ["You are a search engine.", _TUNED_TASK[mode].format(k=k)]
    if question:
        parts.append(_TUNED_CONDITION[mode].format(question=question, answer=answer or "unknown"))
    parts.append("Each document is about 30 words.")
    label = "Useful" if mode is Mode.USEFUL else "Noisy"
    return " ".join(parts) + f"\n\nQuery: {query}\n\n{label} Output:"


def _released_message(query: str, mode: Mode, question: str | None, answer: str | None) -> str:
    """The released simulators' user turn, line by line as in their fine-tuning data.

    "five" is literal whatever k is (the weights were tuned on it; extra documents are cut afterwards).
    The reference always knows the question; without one, its line is left out rather than invented.
    """
    label = mode.value  # "useful" / "noisy"
    lines = [
        "You are the Google search engine.",
        f"Given a query, you need to generate five {label} documents for the query.",
        "",
    ]
    if question:
        lines.append(
            f'The user is trying to answer the question: "{question}" whose answer is {answer or ""}.'
        )
    lines += [
        f"Each document should contain about 30 words, and these documents should contain {label} information.",
        "",
        f"Query: {query}",
        f"{label.capitalize()} Output:",
        "",
    ]
    return "\n".join(lines)


def postprocess_released(text: str, k: int) -> str:
    """The reference's post-processing of a released simulator's output: blank lines → single newlines,
    then everything from ``Doc {k+1}`` on is cut."""
    return text.replace("\n\n", "\n").split(f"Doc {k + 1}")[0]


def build_messages(
    query: str,
    mode: Mode | str,
    *,
    question: str | None = None,
    answer: str | None = None,
    k: int = DEFAULT_TOP_K,
    style: PromptStyle | str = PromptStyle.PROMPT_ONLY,
) -> list[dict[str, str]]:
    """The chat messages asking for ``k`` useful or noisy documents for ``query``."""
    mode, style = Mode(mode), PromptStyle(style)
    if style is PromptStyle.TUNED:
        return [{"role": "user", "content": _tuned_message(query, mode, question, answer, k)}]
    if style is PromptStyle.RELEASED:
        return [
            {"role": "system", "content": ""},
            {"role": "user", "content": _released_message(query, mode, question, answer)},
        ]
    demo_user = _user_message(_DEMO_QUERY, mode, _DEMO_QUESTION, _DEMO_ANSWER, len(_DEMO_DOCUMENTS[mode]))
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": demo_user},
        {"role": "assistant", "content": _demo(mode)},
        {"role": "user", "content": _user_message(query, mode, question, answer, k)},
    ]


def build_prompt(
    query: str,
    mode: Mode | str,
    *,
    question: str | None = None,
    answer: str | None = None,
    k: int = DEFAULT_TOP_K,
    style: PromptStyle | str = PromptStyle.PROMPT_ONLY,
) -> SimulationPrompt:
    """Messages plus the assistant prefix: ``Doc 1:`` for prompt-only, nothing for the tuned/released ones."""
    style = PromptStyle(style)
    messages = build_messages(query, mode, question=question, answer=answer, k=k, style=style)
    return SimulationPrompt(messages=messages, prefix="Doc 1:" if style is PromptStyle.PROMPT_ONLY else "")


def build_completion(documents: list[Document]) -> str:
    """The target text a simulation-tuned model learns to write: ``Doc i: (Title: ...) text`` lines."""
    return format_documents(documents)
