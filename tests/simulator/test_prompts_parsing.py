"""The simulation prompts (both styles) and the parser, on outputs the bundled model really wrote."""

from __future__ import annotations

from zerosearch.common.documents import Document
from zerosearch.simulator.parsing import parse_documents
from zerosearch.simulator.prompts import Mode, PromptStyle, build_completion, build_messages, build_prompt

# Written by SmolLM2-135M-Instruct for the prompt-only style (temperature 0.8), prefix "Doc 1:" put back.
REAL_NOISY = """Doc 1: (Title: Capital of Australia) The capital of Australia is Canberra, and it is the largest city in the Australian Capital Territory.
Doc 2: (Title: Building Australian Capital) Canberra is the capital of Australia.
Doc 3: (Title: Fictional) The capital of Australia is Sydney, with the Sydney Opera House being built in 1970.
The answer is: (Fictional) The capital of Australia is Sydney, with the Sydney Opera House being built in 1970."""
REAL_CUT = """Doc 1: (Title: Moby-Dick) Herman Melville's most famous work is Moby-Dick, which begins as New Yorker n'un. It features Captain Ahab's quest for"""


def test_prompt_only_useful_uses_question_and_answer_noisy_omits_them() -> None:
    useful = build_messages(
        "who wrote moby dick", Mode.USEFUL, question="Who wrote it?", answer="Melville", k=3
    )
    noisy = build_messages(
        "who wrote moby dick", Mode.NOISY, question="Who wrote it?", answer="Melville", k=3
    )
    assert [m["role"] for m in useful] == ["system", "user", "assistant", "user"]
    assert "Melville" in useful[-1]["content"] and "Write 3 useful documents" in useful[-1]["content"]
    assert "Melville" not in noisy[-1]["content"] and "Write 3 noisy documents" in noisy[-1]["content"]
    assert useful[2]["content"].startswith("Doc 1: (Title: ") and useful[2]["content"] != noisy[2]["content"]
    assert build_prompt("q", "useful").prefix == "Doc 1:"


def test_tuned_prompt_is_one_user_message_ending_with_the_output_label() -> None:
    for mode, label in ((Mode.USEFUL, "Useful Output:"), (Mode.NOISY, "Noisy Output:")):
        messages = build_messages("q1", mode, question="Q?", answer="A", k=5, style=PromptStyle.TUNED)
        assert len(messages) == 1 and messages[0]["role"] == "user"
        text = messages[0]["content"]
        assert text.endswith(label) and "Query: q1" in text and '"Q?"' in text and "5 " + mode.value in text
    assert build_prompt("q", "noisy", style="tuned").prefix == ""


def test_completion_round_trips_through_the_parser() -> None:
    docs = [
        Document(rank=1, title="A", text="first document text here."),
        Document(rank=2, text="second one is here."),
    ]
    assert parse_documents(build_completion(docs), k=5) == docs


def test_parser_on_real_output_drops_chatter_and_cuts_at_k() -> None:
    docs = parse_documents(REAL_NOISY, k=5)
    assert [d.title for d in docs] == ["Capital of Australia", "Building Australian Capital", "Fictional"]
    assert "The answer is" not in " ".join(d.text for d in docs)
    assert len(parse_documents(REAL_NOISY, k=2)) == 2


def test_truncated_document_keeps_complete_sentences_only() -> None:
    [doc] = parse_documents(REAL_CUT, k=5, truncated=True)
    assert doc.text.endswith("New Yorker n'un.")
    assert (
        parse_documents("Doc 1: (Title: X) a document cut before its first sentence", k=5, truncated=True)
        == []
    )


def test_parser_accepts_numbered_lists_bold_titles_and_prefix() -> None:
    text = "Here are the documents:\n\n1. **Moby-Dick**: Herman Melville wrote it in 1851.\n2) Melville - An American novelist of the sea."
    docs = parse_documents(text, k=5)
    assert [(d.title, d.text) for d in docs] == [
        ("Moby-Dick", "Herman Melville wrote it in 1851."),
        ("Melville", "An American novelist of the sea."),
    ]
    assert parse_documents(" (Title: T) text of the document.", k=1, prefix="Doc 1:")[0].title == "T"


def test_parser_never_invents_documents() -> None:
    assert parse_documents("", k=5) == []
    assert parse_documents("Doc 1: ok\nDoc 2: ok", k=5) == []  # fragments, not documents
    dup = "Doc 1: the same text four words.\nDoc 2: the same text four words."
    assert len(parse_documents(dup, k=5)) == 1
