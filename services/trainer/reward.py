"""The outcome reward: token F1 (default) or strict EM of the last ``<answer>`` against the gold answers.

ZeroSearch (Sun et al., 2025, §3.4) rewards only the answer, with F1 rather than EM because an EM reward
led the policy to hack it with long answers; there is no format reward. A trajectory without an answer
scores 0 (the reference code, Alibaba-NLP/ZeroSearch, crashed there).

The rollout returns each sample's own ``answer`` and ``golden_answers`` as extra keys, so TRL hands
sample i's answer and golds to the reward function together; the function never re-parses text.

    reward = make_reward_function("f1")
    reward(prompts=[...], completions=[...], answer=["Paris"], golden_answers=[["Paris"]])  # -> [1.0]
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

from zerosearch.common.errors import ConfigError
from zerosearch.common.metrics import strict_em, token_f1

__all__ = ["RewardKind", "answer_reward", "make_reward_function"]


class RewardKind(enum.StrEnum):
    """Which answer metric is the reward."""

    F1 = "f1"
    EM = "em"


_METRICS: dict[RewardKind, Callable[[str | None, Sequence[str]], float]] = {
    RewardKind.F1: token_f1,
    RewardKind.EM: strict_em,
}


def answer_reward(answer: str | None, golden_answers: Sequence[str], kind: RewardKind | str = "f1") -> float:
    """The reward of one trajectory: 0.0 with no answer (or no gold), else the metric, max over golds."""
    if answer is None or not golden_answers:
        return 0.0
    return _METRICS[RewardKind(kind)](answer, golden_answers)


def make_reward_function(kind: RewardKind | str = RewardKind.F1) -> Callable[..., list[float]]:
    """A TRL reward function that scores each sample's ``answer`` against that sample's ``golden_answers``."""
    try:
        reward_kind = RewardKind(kind)
    except ValueError as exc:
        known = ", ".join(k.value for k in RewardKind)
        raise ConfigError(f"reward must be one of {known}, got {kind!r}", param="reward") from exc

    def answer_reward_func(
        completions: list[Any],
        answer: list[str | None] | None = None,
        golden_answers: list[Sequence[str]] | None = None,
        **_: Any,
    ) -> list[float]:
        # TRL passes every extra column by keyword; both lists run in sample order (one entry a completion).
        if answer is None or golden_answers is None:
            raise ValueError("the rollout must return 'answer' and 'golden_answers' for the reward")
        if not len(answer) == len(golden_answers) == len(completions):
            raise ValueError(
                f"reward inputs misaligned: {len(completions)} completions, {len(answer)} answers, "
                f"{len(golden_answers)} gold lists"
            )
        return [answer_reward(a, g, reward_kind) for a, g in zip(answer, golden_answers, strict=True)]

    # TRL logs each reward function under its __name__ (rewards/<name>/mean).
    answer_reward_func.__name__ = f"{reward_kind.value}_reward"
    return answer_reward_func
