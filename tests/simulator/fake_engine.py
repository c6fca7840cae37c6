"""A scripted engine behind the simulator's engine interface, for fast contract tests of the HTTP shapes.

It writes k well-formed ``Doc i: (Title: ...) text`` documents in microseconds and records every request,
so a test can check what reached the engine (k, the question and answer in the prompt) without loading a
model. Everything above the engine (service, cache, routes, auth, errors) is the real code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from zerosearch.common.errors import EngineError
from zerosearch.simulator.engines.base import Engine, Generation, GenerationRequest
from zerosearch.simulator.local import serve_in_background

__all__ = ["ScriptedEngine", "serve_scripted"]


class ScriptedEngine(Engine):
    """Writes k documents naming the prompt's query; ``fail_on`` makes a query raise EngineError."""

    name = "scripted"

    def __init__(self, settings: Any, fail_on: str | None = None) -> None:
        super().__init__(settings)
        self.model_name = "scripted-test-engine"
        self.requests: list[GenerationRequest] = []
        self.fail_on = fail_on

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        """k documents a request; k is read from the ``Doc k+1:`` stop string the service sets."""
        self.requests.extend(requests)
        outputs = []
        for request in requests:
            prompt = request.prompt.messages[-1]["content"]
            if self.fail_on and self.fail_on in prompt:
                raise EngineError("scripted failure")
            k = int(re.search(r"Doc (\d+)", request.stop[0]).group(1)) - 1  # type: ignore[union-attr]
            lines = [
                f"Doc {i}: (Title: Scripted page {i}) Scripted document number {i} written for this query."
                for i in range(1, k + 1)
            ]
            text = "\n".join(lines).removeprefix(request.prompt.prefix)
            outputs.append(Generation(text=text, prompt_tokens=10, completion_tokens=10 * k, truncated=False))
        return outputs

    async def check(self) -> None:
        """Always ready."""


@contextmanager
def serve_scripted(**overrides: Any) -> Iterator[tuple[str, ScriptedEngine]]:
    """A real app (uvicorn, free port) on a ScriptedEngine; yields (base URL, engine)."""
    from zerosearch.simulator.app import create_app
    from zerosearch.simulator.settings import SimulatorSettings

    fail_on = overrides.pop("fail_on", None)
    settings = SimulatorSettings(**overrides)
    engine = ScriptedEngine(settings, fail_on=fail_on)
    with serve_in_background(create_app(settings, engine=engine)) as url:
        yield url, engine
