"""Rollouts through TRL's colocated vLLM engine (``use_vllm: true``, GPU), behind the Policy interface.

TRL syncs the training weights into ``trainer.vllm_generation`` before each rollout batch (it does so for
a ``rollout_func`` too); this adapter only generates with that engine, from token ids, stopping at the
tag boundaries, and returns the sampled ids with their logprobs (TRL then corrects for the vLLM/trainer
mismatch with importance sampling). It IS the vLLM policy engine (:class:`VLLMPolicy`) on the trainer's
``LLM``, so both follow the same end-of-sequence rule: no EOS in a turn's ids (``zerosearch.common.policy``).
"""

from __future__ import annotations

from typing import Any

from zerosearch.common.errors import EngineError
from zerosearch.common.policies.vllm import VLLMPolicy

__all__ = ["VLLMTrainerPolicy"]


class VLLMTrainerPolicy(VLLMPolicy):
    """Generates with the trainer's colocated ``vllm.LLM`` and the trainer's tokenizer."""

    def __init__(self, trainer: Any) -> None:
        generation = getattr(trainer, "vllm_generation", None)
        llm = getattr(generation, "llm", None)
        if llm is None:
            raise EngineError(
                "use_vllm is on but the trainer holds no colocated vLLM engine (vllm_mode=colocate)"
            )
        super().__init__(llm, tokenizer=trainer.processing_class)
