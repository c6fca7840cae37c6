"""How often the learning-signal bar can be met at a given size: a Monte Carlo of arm 2's training reward.

The bar (issue 15) asks that the mean training reward of the last third of the steps exceed the first third
by more than 2 standard errors (:func:`~zerosearch.experiment.stats.signal_in_se`), in every seed. Under
the curriculum a noisy search scores about 0 with one search turn (docs/benchmarks.md, runs 7–9), so the
reward a step can reach falls as p rises: ``reward ≈ (1 − p) · u``, where ``u`` is the policy's chance to
answer from useful documents. This module draws that model, one rollout at a time: a search call is noisy
with the curriculum's p (and then scores ``noisy_reward``), otherwise it answers right with ``u`` of the
step. ``u`` follows a learning curve from ``start`` to ``end``: ``linear`` over the run (the best case:
steady progress until the last step) or ``jump`` (``end`` from step 2 on: what 2 pool questions did in
run 9). Rollouts are independent here; in the real loop a group's rollouts share a question and
correlate, which widens the step-to-step spread, so the real loop meets the bar less often than this says.

    power = bar_power(steps=9, rollouts=8, curriculum=Curriculum(), start=0.25, end=1.0)
    power.one_seed, power.all_seeds(3)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Literal

from zerosearch.experiment.stats import signal_in_se
from zerosearch.trainer.curriculum import Curriculum

__all__ = ["BarPower", "Shape", "bar_power", "learning_curve"]

Shape = Literal["linear", "jump"]


def learning_curve(shape: Shape, start: float, end: float, steps: int) -> list[float]:
    """``u`` per step (1..steps): the chance that a rollout with useful documents answers right."""
    if shape == "jump":
        return [start] + [end] * (steps - 1)
    if steps == 1:
        return [end]
    return [start + (end - start) * i / (steps - 1) for i in range(steps)]


@dataclass(frozen=True)
class BarPower:
    """The share of simulated seeds whose learning signal exceeded the threshold."""

    one_seed: float
    trials: int

    def all_seeds(self, seeds: int) -> float:
        """The chance that every one of ``seeds`` independent seeds meets the bar."""
        return self.one_seed**seeds


def bar_power(
    *,
    steps: int,
    rollouts: int,
    curriculum: Curriculum,
    start: float,
    end: float,
    shape: Shape = "linear",
    noisy_reward: float = 0.0,
    threshold: float = 2.0,
    trials: int = 2000,
    seed: int = 0,
) -> BarPower:
    """Simulate ``trials`` runs of ``steps`` steps of ``rollouts`` rollouts; count signals above ``threshold``."""
    if steps < 6:
        raise ValueError(f"steps must be at least 6 (two steps a third), got {steps}")
    if rollouts < 1 or trials < 1:
        raise ValueError(f"rollouts and trials must be at least 1, got {rollouts} and {trials}")
    for name, value in (("start", start), ("end", end), ("noisy_reward", noisy_reward)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {value}")
    schedule = replace(curriculum, total_steps=steps)  # the curriculum spans the run, as in training
    noise = [schedule(step) for step in range(1, steps + 1)]
    curve = learning_curve(shape, start, end, steps)
    rng = random.Random(seed)
    met = 0
    for _ in range(trials):
        rewards = []
        for p, u in zip(noise, curve, strict=True):
            total = 0.0
            for _ in range(rollouts):
                if rng.random() < p:
                    total += noisy_reward
                elif rng.random() < u:
                    total += 1.0
            rewards.append(total / rollouts)
        signal = signal_in_se(rewards)
        met += signal is not None and signal > threshold
    return BarPower(one_seed=met / trials, trials=trials)
