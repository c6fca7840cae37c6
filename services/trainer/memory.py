"""Bounded memory for the policy on one GPU: LoRA adapters, and a parameter-count memory estimate.

LoRA (``lora.enabled``) trains low-rank adapters through PEFT instead of every weight: the optimizer
state shrinks from 2 × fp32 per parameter to the adapters' few million, and with ``beta > 0`` TRL uses
the base model with the adapters switched off as the reference (no second copy). Gradient checkpointing
and ``micro_batch_size`` are the run config's other two memory settings.

The estimate (:func:`estimate_training_gib`) is arithmetic over the parameter count, not a measurement
(``accelerate estimate-memory`` needs the hub; this machine has none). docs/scaling.md holds its table.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LoraSettings", "estimate_training_gib", "peft_config"]

_GIB = 1024**3


class LoraSettings(BaseModel):
    """LoRA adapters for the policy (PEFT)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="Train LoRA adapters instead of all weights.")
    r: int = Field(default=16, ge=1, le=1024, description="Adapter rank.")
    alpha: int = Field(default=32, ge=1, le=4096, description="Adapter scaling numerator (alpha / r).")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout on the adapters' input.")
    target_modules: list[str] | str = Field(
        default="all-linear", description="Modules to adapt: names, or 'all-linear' (PEFT)."
    )


def peft_config(settings: LoraSettings) -> Any:
    """PEFT's LoraConfig for ``settings``, or None when LoRA is off."""
    if not settings.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
    )


def estimate_training_gib(
    params_billion: float,
    *,
    lora: bool = False,
    lora_fraction: float = 0.01,
    shards: int = 1,
    shard_weights: bool = False,
    activation_gib: float = 0.0,
    reference: bool = False,
) -> float:
    """Estimated GiB one GPU needs to train a policy of ``params_billion`` (an estimate, not measured).

    bf16 weights (2 B/param, +2 B for a reference copy when ``reference`` and no LoRA); full training adds
    fp32 master weights, gradients and two Adam moments (4 + 4 + 8 B/param), sharded over ``shards`` GPUs
    (ZeRO-2); ``shard_weights`` shards the bf16 weights too (ZeRO-3, FSDP). LoRA trains ``lora_fraction`` of the parameters with the same
    per-parameter cost. ``activation_gib`` adds the activations of one micro-batch.
    """
    params = params_billion * 1e9
    weights = 2 * params / (max(shards, 1) if shard_weights and not lora else 1)
    if lora:
        trained = params * lora_fraction
        state = (2 + 4 + 4 + 8) * trained
        ref = 0.0  # the base model with adapters off is the reference
    else:
        state = (4 + 4 + 8) * params / max(shards, 1)
        ref = 2 * params if reference else 0.0
    return (weights + state + ref) / _GIB + activation_gib
