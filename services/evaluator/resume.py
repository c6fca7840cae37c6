"""Resuming an evaluation from the predictions a killed run left in ``predictions.jsonl.partial``.

A run appends each finished batch to the partial file (:class:`~zerosearch.evaluator.report.RunReport`).
A :class:`ResumableReport` also writes a marker next to it, ``predictions.jsonl.partial.run``, holding a
fingerprint of everything that decides the predictions (model, datasets, sample, method, limits; not the
output folder, batch size or threads). :meth:`ResumableReport.resume` keeps the partial only when the
marker matches and its records are, per dataset, exactly the first questions of the run in order; a torn
last line (the run died mid-write) is dropped. The run then scores only the questions after them, so each
question is scored once and appears once in ``predictions.jsonl``. Anything else starts afresh.

    report = ResumableReport(out_dir, config)
    done = report.resume(datasets)   # {"nq": [records of the questions already scored], ...}
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from zerosearch.common.trajectory import QAItem
from zerosearch.evaluator.config import EvalConfig
from zerosearch.evaluator.report import PARTIAL_SUFFIX, PREDICTIONS, RunReport

__all__ = ["RUN_MARKER", "ResumableReport", "run_fingerprint"]

log = logging.getLogger(__name__)

RUN_MARKER = PREDICTIONS + PARTIAL_SUFFIX + ".run"
"""The fingerprint file next to the partial predictions (removed with them by ``RunReport.start``)."""

# Fields that change where or how fast a run goes, not what it predicts.
_NOT_IN_FINGERPRINT = {"out", "batch_size", "cpu_threads", "engine_url", "search_url", "data_dir"}


def run_fingerprint(config: EvalConfig) -> str:
    """A hash of the config fields that decide the predictions (sha256 of their sorted JSON)."""
    fields = {k: v for k, v in config.model_dump(mode="json").items() if k not in _NOT_IN_FINGERPRINT}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _read_records(path: Path) -> list[dict[str, Any]]:
    """The complete JSON lines of ``path``; stops at the first torn or invalid line."""
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break  # the run died while writing this line
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                break
            if not isinstance(record, dict):
                break
            records.append(record)
    return records


def _prefix_by_dataset(
    records: list[dict[str, Any]], datasets: dict[str, list[QAItem]]
) -> dict[str, list[dict[str, Any]]] | None:
    """Records grouped per dataset if they are each dataset's first questions in order, else None."""
    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in datasets}
    for record in records:
        name = record.get("dataset")
        if name not in grouped:
            return None
        position = len(grouped[name])
        items = datasets[name]
        if position >= len(items) or record.get("id") != items[position].id:
            return None
        grouped[name].append(record)
    # Batches run dataset by dataset: only the last dataset with records may be unfinished.
    names = list(datasets)
    started = [i for i, name in enumerate(names) if grouped[name]]
    if started and any(len(grouped[n]) != len(datasets[n]) for n in names[: started[-1]]):
        return None
    return grouped


class ResumableReport(RunReport):
    """A :class:`RunReport` that can continue the partial predictions of an identical, killed run."""

    def __init__(self, out_dir: Path, config: EvalConfig) -> None:
        super().__init__(out_dir)
        self.fingerprint = run_fingerprint(config)
        self._marker = self.out_dir / RUN_MARKER

    def start(self) -> ResumableReport:
        """Start afresh (removing an earlier run's files) and mark the partial file as this run's."""
        super().start()
        self._marker.write_text(self.fingerprint + "\n", encoding="utf-8")
        return self

    def resume(self, datasets: dict[str, list[QAItem]]) -> dict[str, list[dict[str, Any]]]:
        """The records already scored by a killed identical run (kept in the partial), or {} after a fresh start."""
        kept = self._resumable(datasets)
        if kept is None:
            self.start()
            return {}
        flat = [record for records in kept.values() for record in records]
        # Rewrite without a torn tail, so appends continue on a clean line.
        tmp = self._partial.with_name(self._partial.name + ".tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in flat), encoding="utf-8")
        tmp.replace(self._partial)
        log.info("resuming %s: %d questions already scored", self.out_dir, len(flat))
        return {name: records for name, records in kept.items() if records}

    def _resumable(self, datasets: dict[str, list[QAItem]]) -> dict[str, list[dict[str, Any]]] | None:
        if not (self._partial.is_file() and self._marker.is_file()):
            return None
        if self._marker.read_text(encoding="utf-8").strip() != self.fingerprint:
            log.warning("%s: partial predictions are from a different run; starting afresh", self.out_dir)
            return None
        kept = _prefix_by_dataset(_read_records(self._partial), datasets)
        if kept is None:
            log.warning(
                "%s: partial predictions do not match the run's questions; starting afresh", self.out_dir
            )
        return kept

    def finish(self, results: dict[str, Any]) -> dict[str, Path]:
        """Move the complete report into place and drop the marker (the folder holds one complete run)."""
        paths = super().finish(results)
        self._marker.unlink(missing_ok=True)
        return paths
