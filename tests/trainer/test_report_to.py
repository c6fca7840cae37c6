"""report_to: the tracker choice, and our rollout scalars in TRL's TensorBoard stream (read back from disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerosearch.common.errors import ConfigError
from zerosearch.common.tracking import report_targets


def test_report_targets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    assert report_targets("none") == []
    assert report_targets("auto", tmp_path / "tb") == ["tensorboard"]  # tensorboard is in the trainer extra
    import os

    assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "tb")
    with pytest.raises(ConfigError, match="report_to") as info:
        report_targets("mlflow")
    assert info.value.param == "report_to"


def test_missing_tracker_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    with pytest.raises(ConfigError, match="pip install wandb"):
        report_targets("wandb")


@pytest.mark.slow
def test_a_grpo_step_writes_trls_and_our_scalars_to_tensorboard(tmp_path: Path, data_dir: Path) -> None:
    # One real GRPO step (bundled model, BM25 search, report_to auto), then the event file is read back.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from zerosearch.common.search import make_backend
    from zerosearch.trainer.config import parse_train_config
    from zerosearch.trainer.grpo import train

    config = parse_train_config({
        "model": "smollm2-135m", "simulator_url": "http://127.0.0.1:9", "datasets": [str(data_dir / "qa" / "nq.jsonl")],
        "train_limit": 4, "num_generations": 2, "prompts_per_step": 1, "steps": 1, "beta": 0.0,
        "rollout": {"max_turns": 1, "top_k": 1, "max_new_tokens": 16, "max_completion_tokens": 64},
        "cold_start": {"enabled": False}, "eval": {"enabled": False}, "output_dir": str(tmp_path),
    })  # fmt: skip
    assert config.report_to == "auto"
    train(config, backend=make_backend("bm25"))
    [events] = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    accumulator = EventAccumulator(str(events.parent))
    accumulator.Reload()
    tags = set(accumulator.Tags()["scalars"])
    assert {"train/reward", "train/loss", "train/entropy"} <= tags  # TRL's
    ours = {f"train/rollout/{name}" for name in ("searches_per_rollout", "noise_p", "noisy_searches",
                                                 "answer_rate", "invalid_actions", "rollout_tokens_per_s")}  # fmt: skip
    assert ours <= tags, ours - tags
    assert [e.step for e in accumulator.Scalars("train/rollout/noise_p")] == [1]
