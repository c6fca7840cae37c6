"""The files simulation tuning writes between stages, and their crash-tolerant JSONL reading.

    collected.jsonl   one CollectedRecord per question: gold answers, the trajectory's answer and
                      correctness, and every search call with the real engine's documents
    labeled.jsonl     one LabeledSearch per search call: each document with its useful/noisy label

A collection may be interrupted (a crash, a killed job): the file then ends in a torn line. Reading with
``tolerate_torn_tail`` drops that last line with a warning instead of failing; a malformed line anywhere
else is a DatasetError naming file and line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError

from zerosearch.common.documents import Document
from zerosearch.common.errors import DatasetError
from zerosearch.common.io import atomic_path
from zerosearch.tuning.config import Label, LabelRule

__all__ = [
    "CollectedRecord",
    "CollectedSearch",
    "LabeledDocument",
    "LabeledSearch",
    "append_jsonl",
    "read_jsonl",
    "repair_torn_tail",
    "write_jsonl",
]

log = logging.getLogger(__name__)

Record = TypeVar("Record", bound=BaseModel)


class CollectedSearch(BaseModel):
    """One search call of a trajectory: the policy's sub-query and what the real engine returned."""

    query: str
    documents: list[Document] = Field(default_factory=list)
    failed: bool = False


class CollectedRecord(BaseModel):
    """One question's trajectory against the real engine."""

    id: str
    question: str
    golden_answers: list[str]
    dataset: str = ""
    answer: str | None = Field(default=None, description="The trajectory's final answer (None: none).")
    em: float = Field(default=0.0, description="Strict EM of the answer.")
    cover_em: float = Field(default=0.0, description="Cover EM of the answer.")
    f1: float = Field(default=0.0, description="Token F1 of the answer.")
    searches: list[CollectedSearch] = Field(default_factory=list)


class LabeledDocument(Document):
    """A collected document with its label."""

    label: Label


class LabeledSearch(BaseModel):
    """One search call with labelled documents: the unit SFT examples are built from."""

    id: str = Field(description="Id of the question the call belongs to.")
    question: str
    golden_answers: list[str]
    query: str
    rule: LabelRule
    documents: list[LabeledDocument]


def repair_torn_tail(path: Path) -> int:
    """Cut a partial last line (a crash mid-write) off ``path``; returns the bytes removed."""
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    with path.open("rb+") as handle:
        data = handle.read()
        if data.endswith(b"\n"):
            return 0
        keep = data.rfind(b"\n") + 1  # 0 when the only line is torn
        handle.truncate(keep)
    removed = len(data) - keep
    log.warning("%s ended in a torn line (%d bytes): dropped it, it will be redone", path, removed)
    return removed


def _parse(line: str, model: type[Record], where: str) -> Record:
    try:
        return model.model_validate_json(line)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "record"
        if first["type"] == "json_invalid":
            raise DatasetError(f"{where}: not a JSON line ({first['msg']})", param="input") from None
        raise DatasetError(f"{where}: field {field!r}: {first['msg']}", param="input") from None


def read_jsonl(path: Path, model: type[Record], *, tolerate_torn_tail: bool = False) -> Iterator[Record]:
    """Yield validated records of ``path``; with ``tolerate_torn_tail`` a partial last line is skipped."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"file not found: {path}", param="input")
    with path.open(encoding="utf-8") as handle:
        lines = handle.readlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        torn = lineno == len(lines) and not line.endswith("\n")
        try:
            yield _parse(line, model, f"{path}:{lineno}")
        except DatasetError:
            if torn and tolerate_torn_tail:
                log.warning("%s:%d is a torn last line: skipped", path, lineno)
                return
            raise


def append_jsonl(path: Path, records: Iterable[BaseModel]) -> int:
    """Append records, one line each, and fsync, so a crash loses at most the batch being written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("a", encoding="utf-8") as handle:
        for record in records:
            handle.write(record.model_dump_json() + "\n")
            count += 1
        handle.flush()
        os.fsync(handle.fileno())
    return count


def write_jsonl(path: Path, rows: Iterable[BaseModel | dict]) -> int:
    """Write rows to ``path`` atomically (a temporary file renamed over it)."""
    path = Path(path)
    count = 0
    with atomic_path(path) as staging, staging.open("w", encoding="utf-8") as handle:
        for row in rows:
            text = (
                row.model_dump_json() if isinstance(row, BaseModel) else json.dumps(row, ensure_ascii=False)
            )
            handle.write(text + "\n")
            count += 1
    return count
