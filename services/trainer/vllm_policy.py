"""Rollouts through TRL's colocated vLLM engine (``use_vllm: true``, GPU), behind the Policy interface.

TRL syncs the training weights into ``trainer.vllm_generation`` before each rollout batch (it does so for
a ``rollout_func`` too); this adapter only generates with that engine, from token ids, stopping at the
tag boundaries, and returns the sampled ids with their logprobs (TRL then corrects for the vLLM/trainer
mismatch with importance sampling).
"""

from __future__ import annotations

from typing import Any

from zerosearch.common.errors import EngineError
from zerosearch.common.policy import Generation, Policy

__all__ = ["VLLMTrainerPolicy"]


class VLLMTrainerPolicy(Policy):
    """Generates with the trainer's colocated ``vllm.LLM``."""

    def __init__(self, trainer: Any) -> None:
        generation = getattr(trainer, "vllm_generation", None)
        llm = getattr(generation, "llm", None)
        if llm is None:
            raise EngineError(
                "use_vllm is on but the trainer holds no colocated vLLM engine (vllm_mode=colocate)"
            )
        self.llm = llm
        self.tokenizer = trainer.processing_class

    def generate(
        self,
        prompts: list[list[int]],
        *,
        max_new_tokens: int,
        stop: list[str],
        temperature: float,
        top_p: float,
        seed: int | None = None,
    ) -> list[Generation]:
        """One vLLM call for the whole batch; the stop string stays in the text and the ids."""
        # Heavy dependency (vLLM): imported on use, so importing this module stays light.
        from vllm import SamplingParams

        params = SamplingParams(
            max_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p if temperature > 0 else 1.0,
            stop=stop or None,
            include_stop_str_in_output=True,
            logprobs=0,  # the sampled token's logprob only
            seed=seed,
        )
        outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        generations = []
        for output in outputs:
            sample = output.outputs[0]
            ids = list(sample.token_ids)
            logprobs = None
            if sample.logprobs is not None:
                logprobs = [step[token].logprob for step, token in zip(sample.logprobs, ids, strict=True)]
            found = next((s for s in stop if s and sample.text.endswith(s)), None)
            generations.append(Generation(ids=ids, text=sample.text, logprobs=logprobs, stop=found))
        return generations
