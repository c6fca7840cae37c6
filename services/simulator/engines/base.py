"""The engine interface: a batch of simulation prompts in, generated texts and token counts out.

    engine = create_engine(settings)         # transformers | vllm | openai
    await engine.start()
    [out] = await engine.generate([GenerationRequest(prompt, max_new_tokens=200, seed=7)])
    await engine.aclose()

Engines raise ``EngineError`` when generation fails and ``EngineOverloadedError`` when their queue is
full; any other exception from a library is translated into ``EngineError`` at this boundary.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zerosearch.simulator.prompts import SimulationPrompt

if TYPE_CHECKING:
    from zerosearch.simulator.metrics import SimulatorMetrics
    from zerosearch.simulator.settings import SimulatorSettings

__all__ = ["Engine", "Generation", "GenerationRequest"]


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to continue; ``stop`` strings end the generation early (e.g. ``Doc 6``)."""

    prompt: SimulationPrompt
    max_new_tokens: int
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Generation:
    """What the engine wrote for one request; ``truncated`` = stopped by the token limit."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    truncated: bool


class Engine(ABC):
    """Base of every simulator engine."""

    name: str = "base"

    def __init__(self, settings: SimulatorSettings, metrics: SimulatorMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.model_name = settings.model
        self.row_seconds: float | None = None
        """Measured seconds of engine time a request costs (EWMA over batches); None until measured."""

    def observe_batch(self, size: int, seconds: float) -> None:
        """Fold one finished batch into :attr:`row_seconds` (engines that time their batches call this)."""
        if size <= 0 or seconds <= 0:
            return
        sample = seconds / size
        self.row_seconds = sample if self.row_seconds is None else 0.7 * self.row_seconds + 0.3 * sample

    def bind_metrics(self, metrics: SimulatorMetrics) -> None:
        """Report batch sizes, queue depth and tokens to ``metrics`` (the app does this at start)."""
        self.metrics = metrics

    async def start(self) -> None:
        """Load the model or open connections (default: nothing to do)."""

    async def aclose(self) -> None:
        """Release what :meth:`start` acquired (default: nothing)."""

    @abstractmethod
    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        """Generate every request (together where the engine can), results in request order."""

    @abstractmethod
    async def check(self) -> None:
        """Raise EngineError unless the engine is loaded and can answer (used by /readyz)."""
