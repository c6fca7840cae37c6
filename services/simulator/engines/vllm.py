"""In-process vLLM engine for GPU nodes (optional extra ``.[vllm]``, imported lazily).

vLLM batches continuously on its own, so every request is submitted at once and awaited concurrently.
Prompts are rendered with the model's chat template by its transformers tokenizer, exactly as the
transformers engine does, so both engines see the same text. Per-request ``seed`` goes to
``SamplingParams(seed=...)``, which vLLM honours per request.

Written against vLLM's documented ``AsyncLLMEngine.from_engine_args`` / ``generate`` API; it could not be
run on this project's CPU machines (see docs/simulator.md).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from zerosearch.common.errors import ConfigError, EngineError, EngineOverloadedError
from zerosearch.common.models import load_tokenizer, resolve_model
from zerosearch.simulator.engines.base import Engine, Generation, GenerationRequest

__all__ = ["VLLMEngine", "import_vllm"]


def import_vllm() -> Any:
    """The vllm module, or a ConfigError that says how to install it."""
    try:
        # Heavy dependency (vLLM): imported on use, so importing this module stays light.
        import vllm
    except ImportError as exc:
        raise ConfigError(
            "engine 'vllm' needs vLLM, which is not installed: pip install 'zerosearch[vllm]' on a GPU node, "
            "or use --engine transformers (CPU) or --engine openai (a remote server)",
            param="engine",
        ) from exc
    return vllm


class VLLMEngine(Engine):
    """Generate with an in-process vLLM async engine."""

    name = "vllm"

    def __init__(self, settings: Any, metrics: Any = None) -> None:
        super().__init__(settings, metrics)
        self._vllm = import_vllm()  # fail at construction, before any model download
        self._engine: Any = None
        self._tokenizer: Any = None
        self._pending = 0

    async def start(self) -> None:
        """Build the vLLM engine on the GPU and the tokenizer used to render prompts."""
        path = resolve_model(self.settings.model)
        args = self._vllm.AsyncEngineArgs(
            model=path,
            dtype=self.settings.dtype if self.settings.dtype != "float32" else "auto",
            gpu_memory_utilization=self.settings.gpu_memory_utilization,
            max_num_seqs=self.settings.max_batch_size,
        )
        self._engine = self._vllm.AsyncLLMEngine.from_engine_args(args)
        self._tokenizer = load_tokenizer(path)

    async def aclose(self) -> None:
        """Shut the vLLM engine down."""
        if self._engine is not None and hasattr(self._engine, "shutdown"):
            self._engine.shutdown()
        self._engine = None

    async def check(self) -> None:
        """The engine exists and reports healthy."""
        if self._engine is None:
            raise EngineError("the vllm engine is not started")
        try:
            await self._engine.check_health()
        except Exception as exc:  # vLLM raises its own dead-engine errors; map them at this boundary
            raise EngineError(f"vLLM engine unhealthy: {exc}") from exc

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        """Submit every request; vLLM schedules them together."""
        if self._engine is None:
            raise EngineError("the vllm engine is not started")
        if self._pending + len(requests) > self.settings.max_queue:
            raise EngineOverloadedError("vllm engine queue full", retry_after=self.settings.retry_after_s)
        self._pending += len(requests)
        try:
            return list(await asyncio.gather(*(self._one(r) for r in requests)))
        except (EngineError, EngineOverloadedError):
            raise
        except Exception as exc:
            raise EngineError(f"vLLM generation failed: {type(exc).__name__}: {exc}") from exc
        finally:
            self._pending -= len(requests)

    async def _one(self, request: GenerationRequest) -> Generation:
        params = self._vllm.SamplingParams(
            temperature=self.settings.temperature,
            max_tokens=request.max_new_tokens,
            seed=request.seed,
            stop=list(request.stop) or None,
        )
        final = None
        async for output in self._engine.generate(
            request.prompt.render(self._tokenizer), params, request_id=uuid.uuid4().hex
        ):
            final = output
        if final is None or not final.outputs:
            raise EngineError("vLLM returned no output")
        out = final.outputs[0]
        if self.metrics is not None:
            self.metrics.tokens.inc(len(out.token_ids))
        return Generation(
            text=out.text,
            prompt_tokens=len(final.prompt_token_ids or []),
            completion_tokens=len(out.token_ids),
            truncated=out.finish_reason == "length",
        )
