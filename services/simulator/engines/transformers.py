"""In-process transformers engine with dynamic micro-batching (CPU or one GPU).

Concurrent requests are gathered by :class:`MicroBatcher` and generated together with left padding in a
worker thread. Sampling happens in :class:`SeededSampler`, a logits processor with one ``torch.Generator``
per row: each request's draws come from its own seed whatever else shares the batch, so a seeded call is
reproducible while still batched. (``generate`` then runs greedy over the one token the sampler kept.)
Float rounding differs slightly between batch shapes, so the same seed in a different batch can, rarely,
sample a different token; repeated seeded calls are in any case served identically by the cache.

Each row stops at end-of-sequence, at its own token budget, or when it starts the ``Doc k+1`` it was not
asked for (the paper truncates there).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import warnings
from typing import TYPE_CHECKING, Any

import torch
from transformers import LogitsProcessor, StoppingCriteria

from zerosearch.common.errors import EngineError
from zerosearch.common.models import load_causal_lm
from zerosearch.simulator.engines.base import Engine, Generation, GenerationRequest
from zerosearch.simulator.engines.batcher import MicroBatcher

if TYPE_CHECKING:
    from zerosearch.simulator.metrics import SimulatorMetrics
    from zerosearch.simulator.settings import SimulatorSettings

__all__ = ["SeededSampler", "StopPerRow", "TransformersEngine", "quantize_int8"]

log = logging.getLogger(__name__)

_STOP_WINDOW = 8
"""Trailing tokens decoded to look for a stop string (``Doc 6`` spans at most a few tokens)."""


class SeededSampler(LogitsProcessor):
    """Logits processor: temperature sampling with one generator per row; leaves only the drawn token."""

    def __init__(self, seeds: list[int], temperature: float) -> None:
        self.temperature = temperature
        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Return scores that are -inf everywhere but the sampled token of each row."""
        if self.temperature <= 0:
            return scores  # greedy
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)  # (batch, vocab)
        picked = torch.stack(
            [torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(self.generators)]
        )  # (batch, 1)
        out = torch.full_like(scores, float("-inf"))
        return out.scatter(1, picked, 0.0)


class StopPerRow(StoppingCriteria):
    """Stopping criterion: a row is done at its own token budget or when a stop string appears."""

    def __init__(self, tokenizer: Any, prompt_len: int, budgets: list[int], stops: list[tuple[str, ...]]):
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.budgets = budgets
        self.stops = stops

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        """One bool per row (transformers' per-row stopping-criteria contract)."""
        produced = input_ids.shape[1] - self.prompt_len
        done = []
        for row, budget, stops in zip(input_ids, self.budgets, self.stops, strict=True):
            if produced >= budget:
                done.append(True)
                continue
            tail = self.tokenizer.decode(row[-min(produced, _STOP_WINDOW) :]) if stops and produced else ""
            done.append(any(stop in tail for stop in stops))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def quantize_int8(model: Any) -> Any:
    """A copy of ``model`` with every ``nn.Linear`` in dynamic int8 (weights int8, activations quantized per
    call), run by fbgemm on x86 CPUs. Decoding a small model on CPU is bound by memory bandwidth, so int8
    weights make each step about twice as fast (bench/simulator.py). CPU only: the simulator is frozen, so
    nothing trains through these layers.
    """

    if model.device.type != "cpu":
        raise EngineError(f"quantize=int8 runs on CPU only; the model is on {model.device}")
    with warnings.catch_warnings():
        # torch marks eager-mode quantization deprecated in favour of torchao, whose int8 CPU path is slower
        # (measured with torchao 0.18: 163 ms a decoding step vs 67 ms here); keep the fast path while it exists.
        warnings.simplefilter("ignore")
        # Heavy dependency (torch): imported on use, so importing this module stays light.
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def _cut(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """``text`` before the first stop string, and whether one was found."""
    positions = [text.find(stop) for stop in stops if stop in text]
    return (text[: min(positions)], True) if positions else (text, False)


class TransformersEngine(Engine):
    """Generate in-process with transformers; requests are micro-batched."""

    name = "transformers"

    def __init__(
        self,
        settings: SimulatorSettings,
        metrics: SimulatorMetrics | None = None,
        *,
        model: Any = None,
        tokenizer: Any = None,
    ) -> None:
        super().__init__(settings, metrics)
        # A loaded model/tokenizer may be passed in so that several apps (tests, benches) share one copy.
        self.model = model
        self.tokenizer = tokenizer
        self.batcher: MicroBatcher[GenerationRequest, Generation] = MicroBatcher(
            self.generate_batch,
            max_batch_size=settings.max_batch_size,
            wait_ms=settings.batch_wait_ms,
            max_queue=settings.max_queue,
            retry_after_s=settings.retry_after_s,
            on_batch=self._observe_batch,
            on_done=self.observe_batch,
        )

    def _observe_batch(self, size: int, depth: int) -> None:
        if self.metrics is not None:
            self.metrics.batch_size.observe(size)
            self.metrics.queue_depth.set(depth)

    async def start(self) -> None:
        """Load the model (in a thread: it takes seconds) unless one was given, then start batching."""
        if self.settings.threads is not None:
            torch.set_num_threads(self.settings.threads)
        if self.model is None or self.tokenizer is None:
            log.info("loading simulator model %s (%s)", self.settings.model, self.settings.dtype)
            self.model, self.tokenizer = await asyncio.to_thread(
                load_causal_lm, self.settings.model, dtype=self.settings.dtype
            )
        if self.settings.quantize == "int8":
            log.info("quantizing the simulator's Linear layers to dynamic int8")
            self.model = await asyncio.to_thread(quantize_int8, self.model)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batcher.start()

    async def aclose(self) -> None:
        """Stop the batcher (the model stays loaded for whoever passed it in)."""
        await self.batcher.aclose()

    async def check(self) -> None:
        """Loaded and the batching task alive."""
        if self.model is None or not self.batcher.alive:
            raise EngineError("the transformers engine is not running")

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        """Queue the requests for the micro-batcher; they may share a batch with other callers'."""
        return await self.batcher.submit(requests)

    def generate_batch(self, requests: list[GenerationRequest]) -> list[Generation]:
        """Blocking: generate one left-padded batch (runs in the batcher's worker thread)."""
        tok = self.tokenizer
        texts = [r.prompt.render(tok) for r in requests]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)
        prompt_len = enc["input_ids"].shape[1]
        # Unseeded rows draw from the OS: never a replay of a process-wide RNG someone else seeded.
        seeds = [r.seed if r.seed is not None else secrets.randbits(63) for r in requests]
        budgets = [r.max_new_tokens for r in requests]
        stopper = StopPerRow(tok, prompt_len, budgets, [r.stop for r in requests])
        with torch.inference_mode():
            out = self.model.generate(
                **enc,
                max_new_tokens=max(budgets),
                do_sample=False,
                logits_processor=[SeededSampler(seeds, self.settings.temperature)],
                stopping_criteria=[stopper],
                pad_token_id=tok.pad_token_id,
            )
        new = out[:, prompt_len:]  # (batch, new_tokens)
        eos_ids = self.model.generation_config.eos_token_id
        eos = set(eos_ids if isinstance(eos_ids, list) else [eos_ids]) | {tok.eos_token_id}
        results = []
        for i, request in enumerate(requests):
            ids = new[i, : budgets[i]].tolist()
            ended = next((j for j, t in enumerate(ids) if t in eos), None)
            ids = ids if ended is None else ids[:ended]
            text, stopped = _cut(tok.decode(ids, skip_special_tokens=True), request.stop)
            truncated = ended is None and not stopped and len(ids) >= budgets[i]
            mask = enc["attention_mask"][i]
            results.append(Generation(text, int(mask.sum()), len(ids), truncated))
        if self.metrics is not None:
            self.metrics.tokens.inc(sum(g.completion_tokens for g in results))
            self.metrics.prompt_tokens.inc(sum(g.prompt_tokens for g in results))
        return results
