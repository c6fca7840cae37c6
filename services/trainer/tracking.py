"""Our rollout metrics in the same stream as TRL's, for whichever tracker ``report_to`` chose.

TRL logs once per step through ``Trainer.log``; every callback's ``on_log`` receives the same ``logs``
dict, in callback order. :class:`RolloutLogCallback` goes first and adds the step's rollout statistics
(searches per rollout, noise p, noisy and failed searches, answer rate, invalid actions, tokens/s, ...),
so TensorBoard, W&B and Trackio record them beside reward, loss and KL (as ``train/<name>``), and
metrics.jsonl keeps one line per step.

    track_rollouts(trainer, rollout)
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

__all__ = ["RolloutLogCallback", "track_rollouts"]


class RolloutLogCallback(TrainerCallback):
    """Adds the last rollout's statistics to each step's log (TRL's step logs carry ``reward``)."""

    def __init__(self, rollout: Any) -> None:
        self.rollout = rollout

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Merge the rollout metrics into ``logs`` in place (TRL's own values win on a name clash)."""
        if not logs or "reward" not in logs:
            return
        stats = self.rollout.last_stats
        if stats is None:
            return
        for name, value in stats.as_metrics().items():
            logs.setdefault(name, value)


def track_rollouts(trainer: Any, rollout: Any) -> RolloutLogCallback:
    """Put a :class:`RolloutLogCallback` first in ``trainer``'s callbacks, before the reporting ones."""
    callback = RolloutLogCallback(rollout)
    trainer.callback_handler.callbacks.insert(0, callback)
    return callback
