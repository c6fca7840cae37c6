"""The vLLM policy engine (GPU, optional extra ``.[vllm]``).

Written against vLLM's documented offline API: ``LLM(model=…)`` and ``LLM.generate`` with token-id
prompts and ``SamplingParams(stop=…, include_stop_str_in_output=True, logprobs=0, seed=…)``. vLLM keeps
the sampled ids through the token that completed the stop string, as the transformers engine does.

    policy = VLLMPolicy.from_pretrained("Qwen/Qwen2.5-3B", gpu_memory_utilization=0.5)
"""

from __future__ import annotations

from typing import Any

from zerosearch.common.errors import ConfigError, EngineError
from zerosearch.common.policy import Generation, Policy, eos_cut

__all__ = ["VLLMPolicy"]


def _import_vllm() -> Any:
    try:
        # Heavy dependency (vLLM): imported on use, so importing this module stays light.
        import vllm
    except ImportError as exc:
        raise ConfigError(
            "engine 'vllm' needs the vllm package on a GPU machine: pip install 'zerosearch[vllm]', "
            "or use engine 'transformers'",
            param="engine",
        ) from exc
    return vllm


class VLLMPolicy(Policy):
    """A vLLM ``LLM`` behind the :class:`Policy` interface."""

    def __init__(self, llm: Any, tokenizer: Any = None) -> None:
        self.llm = llm
        self.tokenizer = tokenizer if tokenizer is not None else llm.get_tokenizer()
        self._eos_ids = {
            i for i in (self.tokenizer.eos_token_id, self.tokenizer.pad_token_id) if i is not None
        }

    @classmethod
    def from_pretrained(cls, spec: str, *, dtype: str = "auto", **engine: Any) -> VLLMPolicy:
        """Start a vLLM engine for ``spec`` (alias, folder, .gguf or hub id); ``engine`` goes to ``LLM``."""
        from zerosearch.common.models import resolve_model

        vllm = _import_vllm()
        return cls(vllm.LLM(model=resolve_model(spec), dtype=dtype, **engine))

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
        """One batched ``LLM.generate``; logprobs of the sampled ids come back with each row."""
        vllm = _import_vllm()
        params = vllm.SamplingParams(
            temperature=temperature,
            top_p=top_p if temperature > 0 else 1.0,
            max_tokens=max_new_tokens,
            stop=[s for s in stop if s] or None,
            include_stop_str_in_output=True,
            logprobs=0,  # 0 = only the sampled token's logprob
            seed=seed,
        )
        try:
            outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        except Exception as exc:  # vLLM raises many types; callers see one
            raise EngineError(f"vLLM generation failed: {exc}") from exc
        return [self._generation(out.outputs[0]) for out in outputs]

    def _generation(self, completion: Any) -> Generation:
        """One vLLM completion → a Generation without EOS (the end-of-sequence rule of ``policy.py``)."""
        ids = list(completion.token_ids)
        ids = ids[: eos_cut(ids, self._eos_ids)]  # EOS ends a turn; the loop decides what follows
        logprobs = None
        if completion.logprobs:
            logprobs = [step[token].logprob for step, token in zip(completion.logprobs, ids, strict=False)]
        stop = completion.stop_reason if isinstance(completion.stop_reason, str) else None
        text = self.tokenizer.decode(ids, skip_special_tokens=False)
        return Generation(ids=ids, text=text, logprobs=logprobs, stop=stop)

    def close(self) -> None:
        """Drop the engine so its GPU memory can be freed."""
        self.llm = None
