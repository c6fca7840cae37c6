"""Turn what the simulator model wrote into documents, without ever inventing one.

Small models drift from the requested shape, so the parser accepts what we saw them write:

    Doc 1: (Title: Moby-Dick) Herman Melville wrote ...       the requested shape
    Doc 2: Moby-Dick - Herman Melville wrote ...              title before a dash or colon
    1. **Moby-Dick**: Herman Melville wrote ...               numbered lists, markdown bold titles
    Document 3 - "Moby-Dick" ...

A document is its header line plus the lines that follow up to a blank line or the next header; text
after the k-th document is dropped (the paper truncates at ``Doc k+1``). A document cut off by the token
limit keeps its complete sentences, and is dropped when none is complete. Empty or duplicate documents are
dropped. Fewer than k documents is a normal outcome that the caller reports as a warning.

    docs = parse_documents("Doc 1: (Title: A) some text.\\nDoc 2: other text.", k=5)
"""

from __future__ import annotations

import re

from zerosearch.common.documents import Document

__all__ = ["MIN_DOCUMENT_WORDS", "parse_documents"]

MIN_DOCUMENT_WORDS = 4
"""Shorter texts are fragments, not documents."""

# "Doc 1:", "Document 2 -", "doc3.", "1.", "2)", "**3.**", "- Doc 4:" at the start of a line.
_HEADER = re.compile(
    r"^\s*(?:[-*]\s+)?(?:\*\*)?(?:(?:doc(?:ument)?|result)\s*#?\s*(\d{1,2})|(\d{1,2})(?=[.)]))"
    r"\s*(?:\*\*(?=[:.)\-–\s]))?\s*[:.)\-–]?(?:\*\*(?=\s|$))?\s*",
    re.IGNORECASE,
)
_TITLE_PAREN = re.compile(r"^\((?:title:\s*)?([^()]{1,150})\)\s*", re.IGNORECASE)
_TITLE_PREFIX = re.compile(r"^title:\s*(.{1,150}?)\s*(?:\n|[.:;|]\s|\s[-–]\s)", re.IGNORECASE)
_TITLE_BOLD = re.compile(r"^\*\*([^*]{1,150})\*\*\s*[:.\-–]?\s*")
_TITLE_QUOTED = re.compile(r'^"([^"]{1,150})"\s*[:.\-–]?\s*')
_TITLE_DASH = re.compile(r"^([^.!?:\-–]{2,80}?)\s+[-–]\s+")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(?=\s|$)")


def _split_blocks(text: str) -> list[str]:
    """The document blocks of ``text``.

    With headers present only header-started blocks count: a line that follows a finished sentence is
    chatter ("The answer is ..."), not part of the document. Without headers, paragraphs are the
    documents, minus lead-ins that end with a colon ("Here are five documents:").
    """
    blocks: list[tuple[bool, list[str]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if _HEADER.match(line):
            blocks.append((True, [_HEADER.sub("", line, count=1).strip()]))
        elif not stripped:
            blocks.append((False, []))
        elif blocks and blocks[-1][1] and not _SENTENCE_END.search(blocks[-1][1][-1][-2:] + " "):
            blocks[-1][1].append(stripped)  # a wrapped line or a title line continues the document
        elif blocks and not blocks[-1][1]:
            blocks[-1][1].append(stripped)
        else:
            blocks.append((False, [stripped]))
    joined = [(header, " ".join(lines).strip()) for header, lines in blocks]
    if any(header for header, _ in joined):
        return [body for header, body in joined if header and body]
    return [body for _, body in joined if body and not body.endswith(":")]


def _title_and_text(block: str) -> tuple[str, str]:
    """Split a block into (title, text); the title is empty when none is marked."""
    for pattern in (_TITLE_PAREN, _TITLE_BOLD, _TITLE_QUOTED, _TITLE_PREFIX, _TITLE_DASH):
        match = pattern.match(block)
        if match and block[match.end() :].strip():
            return match.group(1).strip().strip("*\"' "), block[match.end() :].strip()
    return "", block


def _complete_sentences(text: str) -> str:
    """``text`` up to its last sentence end; empty when it has none."""
    ends = list(_SENTENCE_END.finditer(text))
    return text[: ends[-1].end()].strip() if ends else ""


def _clean(text: str) -> str:
    """Collapse whitespace and strip markdown emphasis the model adds."""
    return re.sub(r"\s+", " ", text.replace("**", "")).strip()


def parse_documents(text: str, k: int, *, truncated: bool = False, prefix: str = "") -> list[Document]:
    """Up to ``k`` documents parsed from ``text``, ranked 1..n in the order written.

    ``prefix`` is text the prompt pre-filled (e.g. ``Doc 1:``) and is put back before parsing.
    ``truncated`` says the generation hit its token limit, so the last document may be cut mid-sentence.
    """
    blocks = _split_blocks(prefix + text)
    if blocks and truncated:
        blocks[-1] = _complete_sentences(blocks[-1])
    documents: list[Document] = []
    seen: set[str] = set()
    for block in blocks:
        title, body = _title_and_text(block)
        title, body = _clean(title), _clean(body)
        if len(body.split()) < MIN_DOCUMENT_WORDS or body.lower() in seen:
            continue
        seen.add(body.lower())
        documents.append(Document(rank=len(documents) + 1, title=title, text=body))
        if len(documents) == k:
            break
    return documents
