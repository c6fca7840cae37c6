"""The experiment's numbers: mean ± spread over seeds, and the learning signal of one run.

The learning signal compares the mean training reward of the last third of the steps with the first third,
in standard errors: ``(mean(last) − mean(first)) / sqrt(var(first)/n1 + var(last)/n2)`` over the per-step
mean rewards (each step's batch is one independent sample of questions; the rollouts of one group share a
question, so they are not independent draws). Above 2: the reward rose by more than its step-to-step noise.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ["mean_spread", "signal_in_se", "thirds"]


def mean_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation over seeds (spread 0.0 for one seed)."""
    if not values:
        raise ValueError("mean_spread needs at least one value")
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else 0.0)


def thirds(rewards: Sequence[float]) -> tuple[list[float], list[float]]:
    """The first and the last third of a run's per-step rewards (``len // 3`` steps each)."""
    size = len(rewards) // 3
    if size < 1:
        return [], []
    return list(rewards[:size]), list(rewards[-size:])


def signal_in_se(rewards: Sequence[float]) -> float | None:
    """Last third minus first third of the per-step rewards, in standard errors of that difference.

    None when a third has fewer than 2 steps (no variance to estimate: runs of fewer than 6 steps).
    A zero standard error gives ±inf for a difference, 0.0 for none.
    """
    first, last = thirds(rewards)
    if len(first) < 2:
        return None
    diff = statistics.fmean(last) - statistics.fmean(first)
    se = math.sqrt(statistics.variance(first) / len(first) + statistics.variance(last) / len(last))
    if se == 0.0:
        return 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
    return diff / se
