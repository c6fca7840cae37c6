"""Resuming an evaluation from a killed run's partial predictions: each question scored once, none twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zerosearch.evaluator.config import EvalConfig
from zerosearch.evaluator.report import PARTIAL_SUFFIX
from zerosearch.evaluator.resume import RUN_MARKER, ResumableReport, run_fingerprint
from zerosearch.evaluator.runner import EvalProgress, load_datasets, main


class _Killed(Exception):
    """Stands for the process dying after a batch was written."""


def _config(data_dir: Path, out: Path, **update: object) -> EvalConfig:
    fields = {"datasets": ["nq", "bamboogle"], "method": "direct", "limit": 3, "batch_size": 2,
              "max_new_tokens": 8, "data_dir": data_dir, "out": out}  # fmt: skip
    return EvalConfig(**{**fields, **update})


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_fingerprint_ignores_where_and_how_fast_not_what(data_dir, tmp_path) -> None:
    base = _config(data_dir, tmp_path / "a")
    assert run_fingerprint(base) == run_fingerprint(
        base.model_copy(update={"out": tmp_path / "b", "batch_size": 1})
    )
    assert run_fingerprint(base) != run_fingerprint(base.model_copy(update={"limit": 4}))
    assert run_fingerprint(base) != run_fingerprint(base.model_copy(update={"model": "other"}))


def _partial_run(config: EvalConfig, records: list[dict], tail: str = "") -> ResumableReport:
    report = ResumableReport(config.output_dir(), config).start()
    report.append(records)
    if tail:
        with (config.output_dir() / ("predictions.jsonl" + PARTIAL_SUFFIX)).open("a") as handle:
            handle.write(tail)
    return report


def test_resume_keeps_the_prefix_and_drops_a_torn_line(data_dir, tmp_path) -> None:
    config = _config(data_dir, tmp_path / "out")
    datasets = load_datasets(config)
    first = [{"dataset": "nq", "id": item.id, "em": 1.0} for item in datasets["nq"][:2]]
    _partial_run(config, first, tail='{"dataset": "nq", "id": "tor')
    kept = ResumableReport(config.output_dir(), config).resume(datasets)
    assert kept == {"nq": first}
    assert _lines(config.output_dir() / ("predictions.jsonl" + PARTIAL_SUFFIX)) == first  # torn tail gone


@pytest.mark.parametrize(
    ("change", "why"),
    [("other_config", "different run"), ("gap", "not a prefix"), ("unknown_dataset", "not this run's")],
)
def test_resume_starts_afresh_when_the_partial_is_not_this_runs(data_dir, tmp_path, change, why) -> None:
    config = _config(data_dir, tmp_path / "out")
    datasets = load_datasets(config)
    nq = datasets["nq"]
    records = {
        "other_config": [{"dataset": "nq", "id": nq[0].id, "em": 0.0}],
        "gap": [{"dataset": "nq", "id": nq[1].id, "em": 0.0}],
        "unknown_dataset": [{"dataset": "popqa", "id": "x", "em": 0.0}],
    }[change]
    writer = config.model_copy(update={"limit": 5}) if change == "other_config" else config
    _partial_run(writer, records)
    assert ResumableReport(config.output_dir(), config).resume(datasets) == {}, why
    assert (config.output_dir() / ("predictions.jsonl" + PARTIAL_SUFFIX)).read_text() == ""


@pytest.mark.model
@pytest.mark.parametrize("kill_after", [2, 5])  # inside the first dataset; inside the second one
def test_killed_run_resumes_to_the_uninterrupted_result(
    data_dir, tmp_path, bundled_policy, kill_after
) -> None:
    whole = main(_config(data_dir, tmp_path / "whole"), policy=bundled_policy)
    expected = _lines(tmp_path / "whole" / "predictions.jsonl")

    config = _config(data_dir, tmp_path / "killed")

    def die(progress: EvalProgress) -> None:
        if progress.done >= kill_after:
            raise _Killed

    with pytest.raises(_Killed):
        main(config, policy=bundled_policy, on_progress=die)
    written = len(_lines(tmp_path / "killed" / ("predictions.jsonl" + PARTIAL_SUFFIX)))

    scored: list[int] = []
    resumed = main(config, policy=bundled_policy, resume=True, on_progress=lambda p: scored.append(p.done))
    got = _lines(tmp_path / "killed" / "predictions.jsonl")
    assert [(r["dataset"], r["id"]) for r in got] == [(r["dataset"], r["id"]) for r in expected]
    assert got == expected  # greedy: the resumed run's predictions are the uninterrupted run's
    assert resumed["run"]["resumed"] == written and resumed["run"]["questions"] == whole["run"]["questions"]
    assert resumed["datasets"] == whole["datasets"] and resumed["macro"] == whole["macro"]
    assert scored[0] > written  # progress counts the taken-over questions; only the rest were generated
    assert not (tmp_path / "killed" / RUN_MARKER).exists()
    assert not list((tmp_path / "killed").glob("*" + PARTIAL_SUFFIX + "*"))
