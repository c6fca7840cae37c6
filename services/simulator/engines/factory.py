"""The engine factory: the engine that ``settings.engine`` names.

Kept apart from :mod:`~zerosearch.simulator.engines.base` so the interface never imports its implementations.
"""

from __future__ import annotations

from zerosearch.simulator.engines.base import Engine
from zerosearch.simulator.settings import SimulatorSettings

__all__ = ["create_engine"]


def create_engine(settings: SimulatorSettings) -> Engine:
    """The engine named by ``settings.engine`` (imported lazily: torch and vLLM are heavy and optional)."""
    if settings.engine == "transformers":
        from zerosearch.simulator.engines.transformers import TransformersEngine

        return TransformersEngine(settings)
    if settings.engine == "llamacpp":
        from zerosearch.simulator.engines.llamacpp import LlamaCppEngine

        return LlamaCppEngine(settings)
    if settings.engine == "vllm":
        from zerosearch.simulator.engines.vllm import VLLMEngine

        return VLLMEngine(settings)
    from zerosearch.simulator.engines.openai import OpenAIEngine

    return OpenAIEngine(settings)
