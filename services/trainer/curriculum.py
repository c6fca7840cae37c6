"""The curriculum: the noise probability p_i the simulator gets at training step i.

ZeroSearch (Sun et al., 2025, §3.3) raises the share of noisy search calls as training goes on:

    p_i = p_s + (b^(i/m) - 1) / (b - 1) · (p_e - p_s)

with i the 1-based step, m the total steps, b = 4, and p = p_e once i ≥ m. ``linear`` (the same line
without the exponential) and ``constant`` (p_e from the start, i.e. no curriculum) are here for ablations.

    >>> schedule = Curriculum(kind="exponential", p_start=0.0, p_end=0.5, total_steps=203)
    >>> round(schedule(100), 3)
    0.163
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from zerosearch.common.defaults import CURRICULUM_BASE, CURRICULUM_P_END, CURRICULUM_P_START
from zerosearch.common.errors import ConfigError

__all__ = ["Curriculum", "CurriculumKind"]


class CurriculumKind(enum.StrEnum):
    """Shapes of the noise schedule."""

    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    CONSTANT = "constant"


@dataclass(frozen=True)
class Curriculum:
    """A noise schedule over ``total_steps`` steps; call it with a 1-based step to get p."""

    kind: CurriculumKind | str = CurriculumKind.EXPONENTIAL
    p_start: float = CURRICULUM_P_START
    p_end: float = CURRICULUM_P_END
    total_steps: int = 1
    base: float = CURRICULUM_BASE

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", CurriculumKind(self.kind))
        except ValueError as exc:
            known = ", ".join(k.value for k in CurriculumKind)
            raise ConfigError(
                f"curriculum.kind must be one of {known}, got {self.kind!r}", param="kind"
            ) from exc
        for name in ("p_start", "p_end"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"curriculum.{name} must be in [0, 1], got {value}", param=name)
        if self.total_steps < 1:
            raise ConfigError(f"steps must be ≥ 1, got {self.total_steps}", param="steps")
        # b = 1 makes the exponential formula 0/0; b ≤ 0 makes b^(i/m) meaningless.
        if self.kind is CurriculumKind.EXPONENTIAL and (self.base <= 0 or self.base == 1.0):
            raise ConfigError(f"curriculum.base must be > 0 and ≠ 1, got {self.base}", param="base")

    def __call__(self, step: int) -> float:
        """Noise probability at the 1-based ``step`` (p_s before the first step, p_e from step m on)."""
        if self.kind is CurriculumKind.CONSTANT:
            return self.p_end
        if step >= self.total_steps:
            return self.p_end
        fraction = max(step, 0) / self.total_steps
        if self.kind is CurriculumKind.EXPONENTIAL:
            fraction = (self.base**fraction - 1.0) / (self.base - 1.0)
        return self.p_start + fraction * (self.p_end - self.p_start)

    def schedule(self) -> list[tuple[int, float]]:
        """Every ``(step, p)`` pair from 1 to ``total_steps``."""
        return [(step, self(step)) for step in range(1, self.total_steps + 1)]
