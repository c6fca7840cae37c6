"""Algorithm names → TRL ``GRPOConfig`` settings.

Everything runs on TRL's ``GRPOTrainer`` (the only trainer in TRL 1.16 that takes a ``rollout_func``, which
is how search results enter a rollout). The algorithms differ in how the advantage is built from the
group's rewards and how token losses are aggregated (TRL ``grpo_trainer.py``, ``_generate_and_score_
completions`` and ``_compute_loss``):

- ``grpo``: advantage (r − group mean) / group std; each sequence's loss averaged over its tokens.
- ``dr_grpo``: no std scaling (its difficulty bias), loss divided by a constant (Dr. GRPO, Liu et al. 2025).
- ``dapo``: group-std advantage, token-level mean over the batch, clip-higher ε_high = 0.28, truncated
  completions out of the loss (DAPO, Yu et al. 2025). DAPO drops the KL term: set ``beta: 0`` for the
  paper's recipe (we keep the run config's beta so one knob controls KL everywhere).
- ``rloo``: advantage r − group mean, unscaled. The leave-one-out baseline of RLOO gives
  r_i − mean_{j≠i} r_j = G/(G−1)·(r_i − mean), so this is RLOO up to the constant G/(G−1), which the
  learning rate absorbs. (TRL's own ``RLOOTrainer`` has no ``rollout_func``, so it cannot run our rollouts.)
- ``reinforce``: REINFORCE++-baseline style: r − group mean, scaled by the **batch** std (``scale_rewards=
  "batch"``) with a token-level loss. TRL's GRPO always subtracts the group mean, so a baseline-free
  REINFORCE is not expressible; this is the closest variance-reduced REINFORCE it offers.

PPO needs a learned critic (value model); TRL 1.x no longer ships ``PPOTrainer``, so PPO is not offered.
KL is TRL's ``beta`` with TRL's own sign (the reference code flipped it: method.md, defect 2).
"""

from __future__ import annotations

from typing import Any

from zerosearch.common.errors import ConfigError

__all__ = ["ALGORITHMS", "algorithm_settings"]

ALGORITHMS: dict[str, dict[str, Any]] = {
    "grpo": {"loss_type": "grpo", "scale_rewards": "group"},
    "dr_grpo": {"loss_type": "dr_grpo", "scale_rewards": "none"},
    "dapo": {
        "loss_type": "dapo",
        "scale_rewards": "group",
        "epsilon_high": 0.28,
        "mask_truncated_completions": True,
    },
    "rloo": {"loss_type": "dapo", "scale_rewards": "none"},
    "reinforce": {"loss_type": "dapo", "scale_rewards": "batch"},
}
"""Each algorithm's GRPOConfig overrides (see the module docstring for why each one)."""


def algorithm_settings(name: str) -> dict[str, Any]:
    """The GRPOConfig keyword arguments of algorithm ``name``; a ConfigError lists the known names."""
    key = name.strip().lower().replace("-", "_")
    if key == "ppo":
        raise ConfigError(
            "algorithm 'ppo' needs a critic that TRL 1.x no longer ships (no PPOTrainer); "
            f"use one of {', '.join(ALGORITHMS)}",
            param="algorithm",
        )
    if key not in ALGORITHMS:
        raise ConfigError(
            f"unknown algorithm {name!r}: use one of {', '.join(ALGORITHMS)}", param="algorithm"
        )
    return dict(ALGORITHMS[key])
