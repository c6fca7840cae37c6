"""The transformers policy engine: batched, left-padded generation on CPU or one GPU.

Accepts an already-loaded model (the trainer passes the model it is training) or loads one by spec.
Each call runs ONE ``generate`` over the whole batch with the KV cache. Within one rollout batch the keys
and values of what earlier turns already ran are reused (``kv_reuse``): the answer turn computes only the
inserted documents and what follows; the rows of a group prefill their shared prompt once, and a batch of
different questions their common prefix (the instruction) once. The agent loop calls
:meth:`TransformersPolicy.forget` around every batch, so no cache outlives a weight update.

    policy = TransformersPolicy.from_pretrained("smollm2-135m")
    [gen] = policy.generate([ids], max_new_tokens=64, stop=["</search>"], temperature=0.0, top_p=1.0)
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from typing import TYPE_CHECKING, Any

from zerosearch.common.errors import EngineError
from zerosearch.common.policies.kv_reuse import (
    MIN_REUSED_COLUMNS,
    CachedRows,
    build_cache,
    common_prefix,
    plan_reuse,
    prefill_rows,
    rows_are_cheaper,
)
from zerosearch.common.policy import Generation, Policy, eos_cut

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["TransformersPolicy", "cache_keyword", "cut_at_stop"]

log = logging.getLogger(__name__)


def cut_at_stop(
    ids: list[int], tokenizer: PreTrainedTokenizerBase, stop: list[str], eos_ids: set[int]
) -> tuple[int, str | None]:
    """How many of ``ids`` to keep: through the token that completes the first stop string, else up to
    (not including) the first EOS/pad. Returns (length, the stop string found or None).

    Sampled ids are never re-tokenized; the cut is found by decoding prefixes in a binary search
    (O(log n) decodes per row, no per-token Python loop).
    """
    end = eos_cut(ids, eos_ids)  # the end-of-sequence rule of zerosearch.common.policy
    text = tokenizer.decode(ids[:end], skip_special_tokens=False)
    hits = [(text.find(s), s) for s in stop if s and s in text]
    if not hits:
        return end, None
    char_end, found = min((pos + len(s), s) for pos, s in hits)

    def completes(n: int) -> bool:
        return len(tokenizer.decode(ids[:n], skip_special_tokens=False)) >= char_end

    low, high = 1, end  # smallest n whose decoded prefix reaches past the stop string
    while low < high:
        middle = (low + high) // 2
        if completes(middle):
            high = middle
        else:
            low = middle + 1
    return low, found


def cache_keyword(model: Any) -> str:
    """The keyword that hands a KV cache to ``model`` (``cache`` since transformers 5.24, else
    ``past_key_values``)."""
    return "cache" if "cache" in inspect.signature(type(model).forward).parameters else "past_key_values"


class TransformersPolicy(Policy):
    """A transformers causal LM behind the :class:`Policy` interface."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        return_logprobs: bool = True,
        reuse_kv: bool = True,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.return_logprobs = return_logprobs
        self.reuse_kv = reuse_kv
        self._cached: CachedRows | None = None
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        # Ids that end a continuation without a stop string: EOS (and pad, when it differs).
        self._eos_ids = {i for i in (tokenizer.eos_token_id, tokenizer.pad_token_id) if i is not None}

    @classmethod
    def from_pretrained(
        cls, spec: str, *, dtype: str = "float32", device: str | None = None
    ) -> TransformersPolicy:
        """Load a model by alias, folder, ``.gguf`` or hub id (``zerosearch.common.models``)."""
        from zerosearch.common.models import load_causal_lm

        model, tokenizer = load_causal_lm(spec, dtype=dtype, device=device)
        return cls(model, tokenizer)

    def forget(self) -> None:
        """Drop the keys and values kept from the last call (the weights may change before the next batch)."""
        self._cached = None

    def _shared_prompts(self, prompts: list[list[int]]) -> CachedRows | None:
        """With no cache yet: prefill each distinct prompt once when the batch repeats prompts (a group);
        when every prompt differs, their common prefix once (the instruction every question follows)."""
        # Heavy dependency (torch, transformers): imported on use, so importing this module stays light.
        from transformers import DynamicCache

        distinct = [list(p) for p in dict.fromkeys(tuple(p) for p in prompts)]
        if len(distinct) == len(prompts):
            shared = min((common_prefix(prompts[0], p) for p in prompts[1:]), default=0)
            if shared < MIN_REUSED_COLUMNS:
                return None
            distinct = [list(prompts[0][:shared])]
        input_ids, attention = self._pad(distinct)
        cache = DynamicCache()
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        decoder = self.model.get_decoder()
        decoder(input_ids=input_ids, attention_mask=attention, position_ids=positions, use_cache=True,
                **{cache_keyword(decoder): cache})  # fmt: skip
        width = input_ids.shape[1]
        return CachedRows(cache, distinct, [width - len(p) for p in distinct])

    def _reused_cache(self, prompts: list[list[int]]) -> Any:
        """A cache holding what this batch shares with the last call (or with itself), else None."""
        if not self.reuse_kv:
            return None
        cached = self._cached or self._shared_prompts(prompts)
        reuse = plan_reuse(cached, prompts) if cached is not None else None
        if cached is None or reuse is None:
            return None
        if rows_are_cheaper(prompts, reuse):  # new parts of different lengths: no padding computed
            return prefill_rows(self.model.get_decoder(), cached, prompts, reuse)
        return build_cache(cached, prompts, reuse)

    def _pad(self, prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        # Heavy dependency (torch): imported on use, so importing this module stays light.
        import torch

        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):  # left padding: the last column is every row's last token
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            attention[row, width - len(prompt) :] = 1
        device = self.model.device
        return input_ids.to(device), attention.to(device)

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
        """Continue every prompt in one batched ``generate``; cut each row after its first stop string."""
        # Heavy dependency (torch): imported on use, so importing this module stays light.
        import torch

        if not prompts:
            return []
        if any(not p for p in prompts):
            raise EngineError("every prompt needs at least one token")
        input_ids, attention = self._pad(prompts)
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature, "top_p": top_p}
            if temperature > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        # The trainer hands in the model it trains: sample in eval mode (no dropout, KV cache allowed
        # despite gradient checkpointing), then put the mode back.
        was_training = self.model.training
        self.model.eval()
        # A seed forks the CPU RNG (reproducible, the caller's stream untouched); unseeded calls draw on from
        # the global stream, so consecutive calls never replay one (forking always would restore it).
        rng = torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext()
        with rng, torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            try:
                cache = self._reused_cache(prompts)
                out = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=attention,
                    use_cache=True,
                    **{cache_keyword(self.model): cache},
                    max_new_tokens=max_new_tokens,
                    stop_strings=[s for s in stop if s] or None,
                    tokenizer=self.tokenizer,
                    pad_token_id=self.tokenizer.pad_token_id,
                    return_dict_in_generate=True,
                    output_logits=self.return_logprobs,
                    **sampling,
                )
            except (RuntimeError, ValueError) as exc:
                raise EngineError(f"generation failed: {exc}") from exc
            finally:
                self.model.train(was_training)
        sequences = out.sequences.tolist()
        width = input_ids.shape[1]
        kept = getattr(out, "cache", None) or getattr(
            out, "past_key_values", None
        )  # transformers ≥5.24 / older
        self._cached = (
            CachedRows.after_generate(kept, sequences, [width - len(p) for p in prompts])
            if self.reuse_kv and kept is not None
            else None
        )
        new = [row[width:] for row in sequences]
        logprobs = self._sampled_logprobs(out, temperature) if self.return_logprobs else None
        generations = []
        for row, ids in enumerate(new):
            keep, found = cut_at_stop(ids, self.tokenizer, stop, self._eos_ids)
            kept = ids[:keep]
            generations.append(
                Generation(
                    ids=kept,
                    text=self.tokenizer.decode(kept, skip_special_tokens=False),
                    logprobs=logprobs[row][:keep] if logprobs is not None else None,
                    stop=found,
                )
            )
        return generations

    def _sampled_logprobs(self, out: Any, temperature: float) -> list[list[float]]:
        """Log-probabilities of the sampled ids under the raw logits scaled by temperature, as TRL does."""
        # Heavy dependency (torch): imported on use, so importing this module stays light.
        import torch

        steps = len(out.logits)
        sampled = out.sequences[:, -steps:]  # (batch, steps)
        scale = temperature if temperature > 0 else 1.0
        columns = []
        for step, logits in enumerate(out.logits):  # one vectorised op per step over the batch
            logp = torch.log_softmax(logits.float() / scale, dim=-1)  # (batch, vocab)
            columns.append(logp.gather(1, sampled[:, step : step + 1]).squeeze(1))
        return torch.stack(columns, dim=1).tolist()  # (batch, steps)
