"""File helpers written once: atomic writes, JSONL reading, the default corpus path, saving a figure.

atomic_write_text(run / "summary.json", json.dumps(summary))     # readers never see half a file
rows = read_jsonl(path)                                          # DatasetError names file and line
corpus = default_corpus(settings.data_dir)                       # <data_dir>/corpus/wiki_mini.jsonl
save_figure(fig, run / "plots" / "reward.png")                   # Agg, atomic, figure closed
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zerosearch.common.errors import DatasetError

__all__ = [
    "CORPUS_FILE",
    "atomic_path",
    "atomic_write_text",
    "default_corpus",
    "iter_jsonl",
    "read_jsonl",
    "save_figure",
]

CORPUS_FILE = Path("corpus") / "wiki_mini.jsonl"
"""The bundled passage corpus, relative to the data folder (data/README.md)."""


def default_corpus(data_dir: str | Path) -> Path:
    """``<data_dir>/corpus/wiki_mini.jsonl``: the bm25 corpus every verb uses unless told otherwise."""
    return Path(data_dir) / CORPUS_FILE


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step (os.replace),
    on error it is removed, so readers see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix or ".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def iter_jsonl(path: str | Path, *, param: str | None = None) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for every non-blank line; a line that is not JSON (or a file that is not
    UTF-8) is a DatasetError naming the file and the line (and ``param``, the option that named the file)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(
                        f"{path}, line {number}: not valid JSON ({exc.msg})", param=param
                    ) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text ({exc.reason})", param=param) from None
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}", param=param) from None


def read_jsonl(path: str | Path, *, param: str | None = None) -> list[Any]:
    """Every value of a JSONL file, in order (see :func:`iter_jsonl` for the errors)."""
    return [value for _, value in iter_jsonl(path, param=param)]


def save_figure(fig: Any, path: str | Path, *, dpi: int = 100) -> Path:
    """Save a matplotlib figure to ``path`` atomically and close it; returns ``path``."""
    import matplotlib.pyplot as plt  # heavy optional dependency (evaluator/trainer extras): on use only

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return path
