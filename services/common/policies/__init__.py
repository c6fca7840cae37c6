"""Policy engines behind :class:`zerosearch.common.policy.Policy`: transformers, vLLM, OpenAI-compatible.

    policy = make_policy("transformers", "smollm2-135m")
    policy = make_policy("openai", "Qwen/Qwen2.5-3B", base_url="http://gpu:8000/v1", tokenizer="Qwen/Qwen2.5-3B")

Engines import their heavy libraries only when built.
"""

from __future__ import annotations

from typing import Any

from zerosearch.common.errors import ConfigError
from zerosearch.common.policy import Generation, Policy

__all__ = ["POLICY_ENGINES", "Generation", "Policy", "make_policy"]

POLICY_ENGINES: tuple[str, ...] = ("transformers", "vllm", "openai")
"""Every engine ``make_policy`` knows."""

_OPTIONS = {
    "transformers": {"dtype", "device"},
    "vllm": {"dtype", "gpu_memory_utilization", "max_model_len", "tensor_parallel_size"},
    "openai": {"base_url", "api_key", "tokenizer", "timeout_s", "retries", "backoff_s", "served_model"},
}


def make_policy(engine: str, model: str, **opts: Any) -> Policy:
    """Build the policy ``engine`` (transformers, vllm, openai) for ``model`` (alias, folder or hub id)."""
    key = str(engine).strip().lower()
    if key not in _OPTIONS:
        raise ConfigError(
            f"unknown policy engine {engine!r}: use one of {', '.join(POLICY_ENGINES)}", param="engine"
        )
    opts = {k: v for k, v in opts.items() if v is not None}
    if key == "openai" and "url" in opts:  # the CLI's generic --engine-url means base_url here
        opts["base_url"] = opts.pop("url")
    unknown = sorted(set(opts) - _OPTIONS[key])
    if unknown:
        allowed = ", ".join(sorted(_OPTIONS[key]))
        raise ConfigError(
            f"unknown option {unknown[0]!r} for engine {key!r}; allowed: {allowed}", param=unknown[0]
        )
    if key == "transformers":
        from zerosearch.common.policies.transformers import TransformersPolicy

        return TransformersPolicy.from_pretrained(model, **opts)
    if key == "vllm":
        from zerosearch.common.policies.vllm import VLLMPolicy

        return VLLMPolicy.from_pretrained(model, **opts)
    from zerosearch.common.policies.openai import OpenAIPolicy

    return OpenAIPolicy.from_options(model, **opts)
