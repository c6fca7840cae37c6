"""The transformers engine's int8 option: validated settings, a quantized copy, real generation with it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import torch

from zerosearch.common.errors import ConfigError
from zerosearch.simulator.engines.base import GenerationRequest
from zerosearch.simulator.engines.transformers import TransformersEngine, quantize_int8
from zerosearch.simulator.prompts import build_prompt
from zerosearch.simulator.settings import SimulatorSettings, get_simulator_settings


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"quantize": "int4"}, "quantize"),
        (
            {"quantize": "int8", "dtype": "bfloat16"},
            "quantize=int8 needs engine=transformers and dtype=float32",
        ),
        ({"quantize": "int8", "engine": "openai"}, "got engine=openai"),
    ],
)
def test_bad_quantize_settings_are_config_errors(overrides: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        get_simulator_settings(**overrides)
    assert expected in info.value.message


def test_quantize_int8_replaces_linear_layers_in_a_copy(loaded_model: tuple[Any, Any]) -> None:
    model, _ = loaded_model
    quantized = quantize_int8(model)
    dynamic = torch.ao.nn.quantized.dynamic.Linear
    assert sum(isinstance(m, dynamic) for m in quantized.modules()) == sum(
        isinstance(m, torch.nn.Linear) for m in model.modules()
    )
    assert not any(isinstance(m, dynamic) for m in model.modules())  # the shared float model is untouched


def test_int8_engine_writes_documents(loaded_model: tuple[Any, Any]) -> None:
    model, tokenizer = loaded_model
    settings = SimulatorSettings(engine="transformers", model="smollm2-135m", quantize="int8")
    engine = TransformersEngine(settings, model=model, tokenizer=tokenizer)
    prompt = build_prompt("who wrote moby dick", "useful", question="Who wrote Moby-Dick?",
                          answer="Herman Melville", k=2)  # fmt: skip
    request = GenerationRequest(prompt=prompt, max_new_tokens=24, seed=3, stop=("Doc 3",))

    async def run() -> Any:
        await engine.start()
        try:
            return await engine.generate([request])
        finally:
            await engine.aclose()

    [generation] = asyncio.run(run())
    assert engine.model is not model
    assert generation.completion_tokens > 0 and generation.text.strip()
