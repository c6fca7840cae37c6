"""The evaluator's public surface is pinned: the trainer, the demo and other tools import it."""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "zerosearch.common.metrics": {"QAScores", "contains_answer", "cover_em", "normalize_answer", "qa_scores", "strict_em", "token_f1"},
    "zerosearch.evaluator.config": {"DEFAULT_BATCH_SIZE", "EvalConfig", "SearchName", "build_eval_config"},
    "zerosearch.evaluator.jobs": {"EVAL_JOB", "run_eval_job", "submit_eval"},
    "zerosearch.evaluator.runner": {
        "EvalProgress", "ProgressCallback", "load_datasets", "main", "open_backend", "open_policy"
    },
    "zerosearch.evaluator.report": {"PARTIAL_SUFFIX", "REPORT_FILES", "RunReport", "render_markdown", "write_chart"},
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_exported_members(module: str) -> None:
    imported = importlib.import_module(module)
    assert set(imported.__all__) == EXPECTED[module]
    assert all(hasattr(imported, name) for name in imported.__all__)
