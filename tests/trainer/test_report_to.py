"""report_to: the tracker choice, and our rollout scalars in TRL's TensorBoard stream (read back from disk)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from zerosearch.common.errors import ConfigError
from zerosearch.common.tracking import report_targets
from zerosearch.trainer.rollout import RolloutStats
from zerosearch.trainer.tracking import RolloutLogCallback, track_rollouts


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


def test_rollout_scalars_reach_tensorboard_beside_trls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from transformers import TrainerControl, TrainerState, TrainingArguments
    from transformers.integrations import TensorBoardCallback
    from transformers.trainer_callback import CallbackHandler

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    targets = report_targets("tensorboard", tmp_path / "tensorboard")
    args = TrainingArguments(output_dir=str(tmp_path), report_to=targets, use_cpu=True)
    # The trainer's own order: reporting callbacks first, ours added later and moved to the front.
    handler = CallbackHandler([TensorBoardCallback()], None, None, None, None)
    stats = RolloutStats(step=1, noise=0.25, rollouts=4, searches=6, answered=3, invalid_actions=1,
                         noisy_searches=2, model_tokens=400, seconds=2.0)  # fmt: skip
    track_rollouts(SimpleNamespace(callback_handler=handler), SimpleNamespace(last_stats=stats))
    assert isinstance(handler.callbacks[0], RolloutLogCallback)
    state, control = TrainerState(), TrainerControl()
    handler.on_train_begin(args, state, control)
    for step in (1, 2):
        state.global_step = step
        handler.on_log(args, state, control, logs={"reward": 0.5 * step, "loss": 0.1, "kl": 0.01})
    handler.on_train_end(args, state, control)

    [events] = list((tmp_path / "tensorboard").rglob("events.out.tfevents.*"))
    accumulator = EventAccumulator(str(events.parent))
    accumulator.Reload()
    tags = set(accumulator.Tags()["scalars"])
    assert {"train/reward", "train/loss", "train/kl"} <= tags  # TRL's
    ours = {"train/searches_per_rollout", "train/noise_p", "train/noisy_searches", "train/answer_rate",
            "train/invalid_actions", "train/rollout_tokens_per_s"}  # fmt: skip
    assert ours <= tags
    assert [e.value for e in accumulator.Scalars("train/searches_per_rollout")] == [1.5, 1.5]
    assert accumulator.Scalars("train/rollout_tokens_per_s")[0].value == 200.0
    assert [e.step for e in accumulator.Scalars("train/reward")] == [1, 2]


def test_non_step_logs_are_left_alone() -> None:
    callback = RolloutLogCallback(SimpleNamespace(last_stats=RolloutStats(rollouts=1, searches=1)))
    summary = {"train_runtime": 3.0}
    callback.on_log(None, None, None, logs=summary)
    assert summary == {"train_runtime": 3.0}
