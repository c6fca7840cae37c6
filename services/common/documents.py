"""Search documents and the ``Doc i:`` block the agent loop inserts inside ``<information>``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from zerosearch.common.defaults import NO_INFORMATION

__all__ = ["Document", "format_documents"]


class Document(BaseModel):
    """One search result: its 1-based rank, a title (may be empty) and the text."""

    rank: int = Field(ge=1, description="1-based position in the result list.")
    title: str = Field(default="", description="Title of the page or passage; empty when unknown.")
    text: str = Field(description="The document text shown to the policy.")


def format_documents(documents: list[Document]) -> str:
    """Render documents as the paper's ``Doc 1: <title> <text>`` lines; NO_INFORMATION when empty.

    >>> format_documents([Document(rank=1, title="Moby-Dick", text="A novel by Herman Melville.")])
    'Doc 1: (Title: Moby-Dick) A novel by Herman Melville.'
    """
    if not documents:
        return NO_INFORMATION
    lines = []
    for doc in documents:
        head = f"Doc {doc.rank}: "
        if doc.title:
            head += f"(Title: {doc.title}) "
        lines.append(head + doc.text.strip())
    return "\n".join(lines)
