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
from zerosearch.trainer.scoring import scored_logps, supports_scored_logps

__all__ = ["RawRewardGRPOTrainer", "SearchGRPOTrainer", "trainer_class"]


class SearchGRPOTrainer(GRPOTrainer):
    """TRL's GRPOTrainer as the trainer runs it (group-relative advantages, as TRL computes them).

    On CPU, in one process, the loss's log-probabilities come from :func:`scored_logps` (rows grouped by
    length, a group's shared prompt run once, LM head over the loss's tokens only) instead of TRL's head
    over every padded position; the same values up to float rounding, ~3× less optimizer time a demo
    step (docs/benchmarks.md). Everything else (reference model, old log-probs, GPU, several ranks)
    keeps TRL's own path.
    """

    _scored: torch.Tensor | None = None

    def _compute_loss(self, model: Any, inputs: Any) -> Any:
        mask = inputs["completion_mask"]
        self._scored = mask * inputs["tool_mask"] if "tool_mask" in inputs else mask
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self._scored = None

    def _packed_scoring(self, model: Any, kwargs: dict[str, Any]) -> bool:
        return (
            self._scored is not None
            and all(value is None for value in kwargs.values())  # no images, token types, aux loss
            and self.accelerator.num_processes == 1
            and self.accelerator.unwrap_model(model) is model
            and supports_scored_logps(model)
        )

    def _get_per_token_logps_and_entropies(
        self,
        model: Any,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        scored = self._scored
        if (
            compute_aux_loss
            or scored is None
            or scored.size(1) != logits_to_keep
            or not self._packed_scoring(model, kwargs)
        ):
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **kwargs,
            )
        with self.accelerator.autocast():
            logps, entropies = scored_logps(
                model,
                input_ids,
                attention_mask,
                scored,
                temperature=self.temperature,
                compute_entropy=compute_entropy,
            )
        return logps, entropies, None


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
