"""The benchmark registry: the paper's 7 QA datasets, from a local folder, Hugging Face, or any file.

A dataset spec is either a registered name (nq, triviaqa, popqa, hotpotqa, 2wikimultihopqa, musique,
bamboogle; for training also ``zerosearch``, the paper's released RL set) or a path to a
``.jsonl``/``.json``/``.parquet`` file, which is then named by its stem.

A name resolves to a **split** (never train on what is evaluated; the paper trains on NQ + HotpotQA train):

- ``split="eval"`` (evaluation): ``<data_dir>/qa/<name>.jsonl`` when it exists (the repository's files are
  test/dev subsets), else the Hugging Face dataset ``RUC-NLPIR/FlashRAG_datasets`` at the split the paper
  evaluates (test where public, else dev);
- ``split="train"`` (training): ``<data_dir>/qa/train/<name>.jsonl`` when it exists, else FlashRAG's
  ``train`` split on the hub; ``zerosearch`` is ``sunhaonlp/ZeroSearch_dataset`` (train split, NQ + HotpotQA).
  A path is read as given, whatever the split.

Every record is ``{id, question, golden_answers}``; a malformed line raises DatasetError naming the file
and the line. ``limit`` takes a deterministic seeded sample that keeps file order, and never drops a
remainder: Bamboogle with ``limit=None`` is scored on all 125 questions (the reference code,
Alibaba-NLP/ZeroSearch, scored 72 of them: drop_last).

    items = load_benchmark("bamboogle", data_dir=Path("data"), limit=10, seed=0)
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from zerosearch.common.errors import DatasetError
from zerosearch.common.trajectory import QAItem

__all__ = [
    "BENCHMARKS",
    "HF_REPO",
    "TRAINING_SETS",
    "Benchmark",
    "DatasetSource",
    "Split",
    "dataset_name",
    "load_benchmark",
    "read_records",
    "sample",
]

log = logging.getLogger(__name__)

HF_REPO = "RUC-NLPIR/FlashRAG_datasets"
"""The Hugging Face dataset that publishes all 7 benchmarks in the ``{id, question, golden_answers}`` shape."""

DatasetSource = Literal["auto", "local", "hf"]

Split = Literal["train", "eval"]
"""Which side of a registered dataset a run reads: ``train`` (training) or ``eval`` (its test/dev split)."""


@dataclass(frozen=True)
class Benchmark:
    """A registered benchmark: its name, the FlashRAG split the paper evaluates, its train split (None when
    FlashRAG publishes none), and whether it is in-domain."""

    name: str
    hf_split: str
    hf_train_split: str | None = None
    in_domain: bool = False


# Splits follow Search-R1/ZeroSearch: test sets where public, else the dev sets.
BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark("nq", "test", "train", in_domain=True),
        Benchmark("triviaqa", "test", "train"),
        Benchmark("popqa", "test"),
        Benchmark("hotpotqa", "dev", "train", in_domain=True),
        Benchmark("2wikimultihopqa", "dev", "train"),
        Benchmark("musique", "dev", "train"),
        Benchmark("bamboogle", "test"),
    )
}
"""The paper's 7 benchmarks by name (NQ and HotpotQA are in-domain)."""

ZEROSEARCH_REPO = "sunhaonlp/ZeroSearch_dataset"
"""The paper's released RL training set (NQ + HotpotQA train questions, verl parquet rows)."""

TRAINING_SETS: dict[str, tuple[str, ...]] = {"zerosearch": ("nq", "hotpotqa")}
"""Training-only names → the benchmarks their questions come from (whose eval splits they must avoid)."""

_FILE_SUFFIXES = (".jsonl", ".json", ".parquet")


def dataset_name(spec: str) -> str:
    """The name a spec reports under: a registered name as given, a file path by its stem."""
    text = spec.strip()
    if text.lower() in BENCHMARKS or text.lower() in TRAINING_SETS:
        return text.lower()
    return Path(text).stem


def _prompt_question(record: dict[str, Any]) -> str | None:
    """The question of a verl row without a ``question`` column: the text after the prompt's last
    "Question:" (Search-R1's template ends with it)."""
    prompt = record.get("prompt")
    if hasattr(prompt, "tolist"):
        prompt = prompt.tolist()
    if not isinstance(prompt, list | tuple) or not prompt or not isinstance(prompt[-1], dict):
        return None
    content = str(prompt[-1].get("content", ""))
    return content.rsplit("Question:", 1)[-1].strip() or None


def _record_to_item(record: Any, where: str, default_id: str) -> QAItem:
    """Validate one raw record; ``where`` names file and line for the error."""
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(record).__name__}", param="datasets")
    answers = record.get("golden_answers", record.get("answers"))
    if answers is None and isinstance(record.get("reward_model"), dict):  # verl/Search-R1 parquet rows
        truth = record["reward_model"].get("ground_truth")
        answers = truth.get("target") if isinstance(truth, dict) else truth
    if hasattr(answers, "tolist"):  # numpy arrays from parquet readers
        answers = answers.tolist()
    if isinstance(answers, str):
        answers = [answers]  # some files hold a single answer string
    if isinstance(answers, list | tuple) and answers and all(isinstance(a, int | float) for a in answers):
        answers = [str(a) for a in answers]  # numeric golds (years) read from JSON as numbers
    if isinstance(answers, list | tuple) and not answers:
        raise DatasetError(
            f"{where}: field 'golden_answers' is empty: a question needs a gold answer to score",
            param="datasets",
        )
    try:
        return QAItem(
            id=str(record.get("id", default_id)),
            question=record.get("question", _prompt_question(record)),
            golden_answers=answers,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "record"
        raise DatasetError(
            f"{where}: field {field!r}: {first['msg']} (need question: non-empty string, "
            "golden_answers: list of strings)",
            param="datasets",
        ) from None


def _read_jsonl(path: Path, name: str) -> list[QAItem]:
    items = []
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue  # blank lines (a trailing newline) are not records
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{where}: malformed JSON: {exc.msg}", param="datasets") from None
            items.append(_record_to_item(record, where, f"{name}-{lineno}"))
    return items


def _read_json(path: Path, name: str) -> list[QAItem]:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: malformed JSON: {exc.msg}", param="datasets") from None
    if not isinstance(records, list):
        raise DatasetError(f"{path}: expected a JSON list of records", param="datasets")
    return [_record_to_item(r, f"{path} record {i}", f"{name}-{i}") for i, r in enumerate(records, 1)]


def _read_parquet(path: Path, name: str) -> list[QAItem]:
    # Heavy dependency (pyarrow): imported on use, so importing this module stays light.
    import pyarrow.parquet as pq

    try:
        records = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DatasetError(f"{path}: not a readable parquet file: {exc}", param="datasets") from None
    return [_record_to_item(r, f"{path} row {i}", f"{name}-{i}") for i, r in enumerate(records, 1)]


def read_records(path: Path, name: str | None = None) -> list[QAItem]:
    """Read and validate every record of a ``.jsonl``, ``.json`` or ``.parquet`` file."""
    path = Path(path)
    name = name or path.stem
    if not path.is_file():
        raise DatasetError(f"dataset file not found: {path}", param="datasets")
    readers = {".jsonl": _read_jsonl, ".json": _read_json, ".parquet": _read_parquet}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(
            f"{path}: unsupported file type {path.suffix!r}; use one of {list(_FILE_SUFFIXES)}",
            param="datasets",
        )
    items = reader(path, name)
    if not items:
        raise DatasetError(f"{path}: holds no records", param="datasets")
    for item in items:
        item.dataset = name
    return items


def _load_hf(name: str, repo: str, subset: str | None, split: str, local_hint: str) -> list[QAItem]:
    """Download one split of a hub dataset (needs internet or a warm HF cache)."""
    try:
        # Heavy dependency (datasets): imported on use, so importing this module stays light.
        import datasets as hf_datasets

        table = hf_datasets.load_dataset(repo, subset, split=split)
    except Exception as exc:  # offline, hub errors, missing split: all mean "cannot get it from the hub"
        raise DatasetError(
            f"cannot load {name!r} from Hugging Face {repo} (split {split}): "
            f"{type(exc).__name__}: {str(exc)[:200]}. Offline? Set ZEROSEARCH_DATA_DIR to a folder with "
            f"{local_hint}, or pass a file path",
            param="datasets",
        ) from None
    where = f"{repo}/{subset or name}:{split}"
    items = [_record_to_item(r, f"{where} row {i}", f"{name}-{i}") for i, r in enumerate(table, 1)]
    for item in items:
        item.dataset = name
    return items


def sample(items: list[QAItem], limit: int | None, seed: int) -> list[QAItem]:
    """A deterministic sample of ``limit`` items (same seed → same questions), kept in file order."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise DatasetError(f"limit must be >= 1, got {limit}", param="limit")
    chosen = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in chosen]


def _resolve_name(key: str, data_dir: Path | None, source: DatasetSource, split: Split) -> list[QAItem]:
    """A registered name at ``split``: the local file when present, else the hub."""
    if split == "eval" and key in TRAINING_SETS:
        raise DatasetError(
            f"dataset {key!r} is a training set; evaluate on {', '.join(TRAINING_SETS[key])} instead",
            param="datasets",
        )
    relative = f"qa/train/{key}.jsonl" if split == "train" else f"qa/{key}.jsonl"
    local = Path(data_dir) / relative if data_dir else None
    if source != "hf" and local is not None and local.is_file():
        return read_records(local, key)
    if source == "local":
        raise DatasetError(
            f"dataset {key!r} ({split} split): no local file {local or '<data_dir>/' + relative} "
            "(set ZEROSEARCH_DATA_DIR or use source hf)",
            param="datasets",
        )
    if key in TRAINING_SETS:
        return _load_hf(key, ZEROSEARCH_REPO, None, "train", relative)
    benchmark = BENCHMARKS[key]
    hf_split = benchmark.hf_train_split if split == "train" else benchmark.hf_split
    if hf_split is None:
        raise DatasetError(
            f"dataset {key!r} has no train split (it is an evaluation set only): train on nq, hotpotqa, "
            f"zerosearch or a file of your own ({relative})",
            param="datasets",
        )
    return _load_hf(key, HF_REPO, key, hf_split, relative)


def _resolve(spec: str, data_dir: Path | None, source: DatasetSource, split: Split) -> list[QAItem]:
    text = spec.strip()
    if not text:
        raise DatasetError("empty dataset name", param="datasets")
    key = text.lower()
    if key in BENCHMARKS or key in TRAINING_SETS:
        return _resolve_name(key, data_dir, source, split)
    path = Path(text).expanduser()
    if path.suffix.lower() in _FILE_SUFFIXES or path.exists():
        return read_records(path)
    raise DatasetError(
        f"unknown dataset {text!r}: use one of {', '.join(BENCHMARKS)}, or a path to a "
        f"{'/'.join(_FILE_SUFFIXES)} file",
        param="datasets",
    )


def load_benchmark(
    spec: str,
    *,
    data_dir: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    source: DatasetSource = "auto",
    split: Split = "eval",
) -> list[QAItem]:
    """Load a dataset by registered name (at ``split``) or file path, then take the ``limit`` sample."""
    items = _resolve(spec, data_dir, source, split)
    chosen = sample(items, limit, seed)
    log.info("dataset %s: %d of %d questions", dataset_name(spec), len(chosen), len(items))
    return chosen
