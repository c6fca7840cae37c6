"""Algorithm names → TRL ``GRPOConfig`` settings (and, for ``reinforce``, the advantage our trainer uses).

Everything runs on TRL's ``GRPOTrainer`` (the only trainer in TRL 1.16 that takes a ``rollout_func``, which
is how search results enter a rollout). The algorithms differ in how the advantage is built from the
rewards and how token losses are aggregated (TRL ``grpo_trainer.py``, ``_generate_and_score_completions``
and ``_compute_loss``). Aggregations (``loss_aggregation`` in the run config overrides the default):

- ``sequence_mean`` (TRL ``loss_type="grpo"``): each sequence's token losses averaged, then sequences
  averaged; a length weighting the reference code does not have.
- ``token_mean`` (TRL ``"dapo"``): every active token of the step weighs the same; the reference's (verl)
  aggregation (verl's token-mean in Alibaba-NLP/ZeroSearch; TRL's ``loss_type``).
- ``constant`` (TRL ``"dr_grpo"``): token losses summed and divided by batch × max_completion_length.

The algorithms:

- ``grpo``: advantage (r − group mean) / group std; ``sequence_mean`` by default (TRL's GRPO), set
  ``loss_aggregation: token_mean`` for the reference's.
- ``dr_grpo``: no std scaling (its difficulty bias), ``constant`` aggregation (Dr. GRPO, Liu et al. 2025).
- ``dapo``: group-std advantage, ``token_mean``, clip-higher ε_high = 0.28, truncated completions out of
  the loss (DAPO, Yu et al. 2025). DAPO drops the KL term: set ``beta: 0`` for its recipe.
- ``rloo``: advantage r − group mean, unscaled. RLOO's leave-one-out baseline gives
  r_i − mean_{j≠i} r_j = G/(G−1)·(r_i − mean): RLOO up to a constant the learning rate absorbs.
- ``reinforce``: the paper's REINFORCE as the reference code runs it: the advantage IS the raw reward (no
  baseline, no normalisation), ``token_mean``. TRL always subtracts the group mean, so our trainer
  (``zerosearch.trainer.trl_trainer``) puts the raw rewards back as advantages after TRL scores a batch.
- ``reinforce_baseline``: REINFORCE++-baseline style: r − group mean, scaled by the **batch** std,
  ``token_mean`` (what ``reinforce`` meant before: a variance-reduced REINFORCE, not the paper's).
- ``gspo``: sequence-level importance ratio (GSPO, Zheng et al. 2025), group-std advantage,
  ``sequence_mean``, clip range 3e-4 / 4e-4 (GSPO's, used unless ``epsilon`` is set), TRL's
  ``importance_sampling_level="sequence"``.
- ``cispo``: clipped importance-sampling weights times advantage times log-prob (MiniMax-M1, 2025),
  ε_max = 5.0, token-mean by construction (TRL ``loss_type="cispo"``).

PPO needs a learned critic (value model); TRL 1.x no longer ships ``PPOTrainer``, so PPO is not offered.
KL is TRL's ``beta`` with TRL's own sign (the reference code, Alibaba-NLP/ZeroSearch, flipped it).
"""

from __future__ import annotations

import enum
from typing import Any

from zerosearch.common.errors import ConfigError

__all__ = [
    "ALGORITHMS",
    "DEFAULT_EPSILON",
    "Algorithm",
    "LossAggregation",
    "algorithm_settings",
    "parse_algorithm",
    "uses_raw_reward",
]


class Algorithm(enum.StrEnum):
    """The training algorithms by name."""

    GRPO = "grpo"
    DR_GRPO = "dr_grpo"
    DAPO = "dapo"
    RLOO = "rloo"
    REINFORCE = "reinforce"
    REINFORCE_BASELINE = "reinforce_baseline"
    GSPO = "gspo"
    CISPO = "cispo"


class LossAggregation(enum.StrEnum):
    """How token losses become one loss (see the module docstring); each maps to a TRL ``loss_type``."""

    SEQUENCE_MEAN = "sequence_mean"
    TOKEN_MEAN = "token_mean"
    CONSTANT = "constant"


_LOSS_TYPES = {
    LossAggregation.SEQUENCE_MEAN: "grpo",
    LossAggregation.TOKEN_MEAN: "dapo",
    LossAggregation.CONSTANT: "dr_grpo",
}

DEFAULT_EPSILON = 0.2
"""PPO-style clip range when neither the run config nor the algorithm sets one (the paper's 0.2)."""

ALGORITHMS: dict[str, dict[str, Any]] = {
    Algorithm.GRPO: {"loss_type": "grpo", "scale_rewards": "group"},
    Algorithm.DR_GRPO: {"loss_type": "dr_grpo", "scale_rewards": "none"},
    Algorithm.DAPO: {
        "loss_type": "dapo",
        "scale_rewards": "group",
        "epsilon_high": 0.28,
        "mask_truncated_completions": True,
    },
    Algorithm.RLOO: {"loss_type": "dapo", "scale_rewards": "none"},
    Algorithm.REINFORCE: {"loss_type": "dapo", "scale_rewards": "none"},  # + raw-reward advantage
    Algorithm.REINFORCE_BASELINE: {"loss_type": "dapo", "scale_rewards": "batch"},
    Algorithm.GSPO: {
        "loss_type": "grpo",
        "scale_rewards": "group",
        "importance_sampling_level": "sequence",
        "epsilon": 3e-4,
        "epsilon_high": 4e-4,
    },
    Algorithm.CISPO: {"loss_type": "cispo", "scale_rewards": "group", "epsilon_high": 5.0},
}
"""Each algorithm's GRPOConfig overrides (see the module docstring for why each one)."""


def parse_algorithm(name: str | Algorithm) -> Algorithm:
    """The Algorithm for a name (case and ``-``/``_`` ignored); a ConfigError lists the known names."""
    key = str(name).strip().lower().replace("-", "_")
    known = ", ".join(a.value for a in Algorithm)
    if key == "ppo":
        raise ConfigError(
            f"algorithm 'ppo' needs a critic that TRL 1.x no longer ships (no PPOTrainer); use one of {known}",
            param="algorithm",
        )
    try:
        return Algorithm(key)
    except ValueError:
        raise ConfigError(f"unknown algorithm {name!r}: use one of {known}", param="algorithm") from None


def uses_raw_reward(name: str | Algorithm) -> bool:
    """Whether the advantage is the raw reward (the paper's REINFORCE) rather than TRL's group-relative one."""
    return parse_algorithm(name) is Algorithm.REINFORCE


def algorithm_settings(
    name: str | Algorithm,
    *,
    loss_aggregation: LossAggregation | str | None = None,
    epsilon: float | None = None,
) -> dict[str, Any]:
    """The GRPOConfig keyword arguments of algorithm ``name``, with the run's aggregation and clip range."""
    settings = dict(ALGORITHMS[parse_algorithm(name)])
    if loss_aggregation is not None:
        if settings["loss_type"] == "cispo":
            raise ConfigError(
                "loss_aggregation: cispo aggregates by token by construction; leave loss_aggregation unset",
                param="loss_aggregation",
            )
        settings["loss_type"] = _LOSS_TYPES[LossAggregation(loss_aggregation)]
    if epsilon is not None:
        if "epsilon" in settings:  # gspo's own pair (3e-4/4e-4) gives way to the run's range entirely
            settings.pop("epsilon_high", None)
        settings["epsilon"] = epsilon
    settings.setdefault("epsilon", DEFAULT_EPSILON)
    return settings
