"""The policy-engine interface: batched generation that stops at tag boundaries.

Implementations (transformers, vLLM, OpenAI-compatible) live in ``zerosearch.common.policies``.

The end-of-sequence rule every engine follows: a :class:`Generation` never holds EOS (nor what comes after
it); EOS only ends the turn. The agent loop then appends one EOS to every trajectory that finished normally
(``zerosearch.common.agent``), so all engines give TRL the same ending.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["Generation", "Policy", "eos_cut"]


def eos_cut(ids: list[int], eos_ids: set[int]) -> int:
    """How many of ``ids`` come before the first end-of-sequence id (all of them when there is none)."""
    return min((ids.index(e) for e in eos_ids if e in ids), default=len(ids))  # C-level scans, no loop


@dataclass
class Generation:
    """One continuation: sampled ids (cut after the stop string), their text, optional logprobs."""

    ids: list[int]
    text: str
    logprobs: list[float] | None = None
    stop: str | None = None  # which stop string ended it; None for EOS or the token limit


class Policy(ABC):
    """Generates continuations of token-id prompts for a batch of active trajectories."""

    tokenizer: PreTrainedTokenizerBase

    @abstractmethod
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
        """Continue every prompt; stop each at the first of ``stop`` (kept in the text) or EOS."""

    def forget(self) -> None:
        """Drop state kept between the calls of one rollout batch (the transformers policy's KV cache); the
        agent loop calls it before and after every batch (default: nothing kept)."""

    def close(self) -> None:
        """Release the engine (default: nothing to release)."""
