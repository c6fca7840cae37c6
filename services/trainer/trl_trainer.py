"""Our TRL trainer: TRL's ``GRPOTrainer``, plus the one thing TRL 1.16 cannot express, the paper's REINFORCE.

TRL forms every advantage as (reward − group mean), optionally scaled, in ``_generate_and_score_
completions``; no ``GRPOConfig`` setting turns the baseline off. The reference code's REINFORCE uses the
raw reward as the advantage (Alibaba-NLP/ZeroSearch's REINFORCE scripts). :class:`SearchGRPOTrainer`
keeps TRL's whole pipeline (rollout, rewards, masks, loss) and, with ``raw_reward_advantage=True``,
replaces the computed advantages of each batch with that batch's weighted rewards: the smallest hook that changes only the
advantage. TRL still logs its own group-relative ``advantages`` statistics; the loss uses ours.

    trainer = trainer_class(config.algorithm)(model=..., args=..., rollout_func=...)
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

from zerosearch.trainer.algorithms import Algorithm, uses_raw_reward

__all__ = ["RawRewardGRPOTrainer", "SearchGRPOTrainer", "trainer_class"]


class SearchGRPOTrainer(GRPOTrainer):
    """TRL's GRPOTrainer as the trainer runs it (group-relative advantages, as TRL computes them)."""


class RawRewardGRPOTrainer(SearchGRPOTrainer):
    """REINFORCE without a baseline: advantage_i = Σ_k w_k · reward_k,i (unscorable samples: 0)."""

    _last_rewards: torch.Tensor | None = None

    def _calculate_rewards(
        self, inputs: Any, prompts: Any, completions: Any, completion_ids_list: Any
    ) -> Any:
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards = rewards  # (all processes' samples, reward functions)
        return rewards

    def _generate_and_score_completions(self, inputs: Any) -> dict[str, Any]:
        output = super()._generate_and_score_completions(inputs)
        per_func = self._last_rewards
        if per_func is None:
            raise RuntimeError("REINFORCE: TRL scored no rewards for this batch")
        rewards = (per_func * self.reward_weights.to(per_func.device).unsqueeze(0)).nansum(dim=1)
        rewards[torch.isnan(per_func).all(dim=1)] = 0.0  # as TRL: an unscorable sample teaches nothing
        local = output["advantages"]
        start = self.accelerator.process_index * len(local)  # TRL's own slice of this process's samples
        output["advantages"] = rewards[start : start + len(local)].to(local.device, local.dtype)
        self._last_rewards = None
        return output


def trainer_class(algorithm: str | Algorithm) -> type[SearchGRPOTrainer]:
    """The trainer class an algorithm needs: raw-reward advantages for ``reinforce``, TRL's otherwise."""
    return RawRewardGRPOTrainer if uses_raw_reward(algorithm) else SearchGRPOTrainer
