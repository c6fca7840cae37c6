"""The vllm and openai engines: a clear error without vLLM; the openai engine against a real HTTP server."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from tests.simulator.conftest import serve_app
from zerosearch.common.errors import ConfigError, EngineError
from zerosearch.simulator.engines.base import GenerationRequest
from zerosearch.simulator.engines.factory import create_engine
from zerosearch.simulator.prompts import build_prompt
from zerosearch.simulator.settings import SimulatorSettings, get_simulator_settings

# The fixed text is the seam: the server stands in for vllm serve / llama.cpp, the client code is real.
FAKE_TEXT = "Doc 1: (Title: Moby-Dick) Herman Melville wrote the novel in 1851.\nDoc 2: (Title: Whale) A sperm whale hunted by Ahab."


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_vllm_engine_without_vllm_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        create_engine(SimulatorSettings(engine="vllm"))
    assert info.value.param == "engine" and "pip install 'zerosearch[vllm]'" in info.value.message


def test_bad_setting_is_a_config_error_naming_the_option() -> None:
    with pytest.raises(ConfigError) as info:
        get_simulator_settings(engine="tgi")
    assert info.value.param == "engine" and "ZEROSEARCH_ENGINE" in info.value.message


@pytest.fixture(scope="module")
def openai_server() -> Iterator[dict[str, Any]]:
    """A tiny OpenAI-compatible server: fails with 500 ``fail`` times, then answers FAKE_TEXT."""
    state: dict[str, Any] = {"fail": 0, "calls": [], "status": 500}
    app = FastAPI()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"data": [{"id": "sim"}]}

    @app.post("/v1/chat/completions")
    async def chat(body: dict[str, Any]) -> Any:
        state["calls"].append(body)
        if state["fail"] > 0:
            state["fail"] -= 1
            return JSONResponse({"error": "boom"}, status_code=state["status"])
        return {
            "choices": [{"message": {"role": "assistant", "content": FAKE_TEXT}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 30},
        }

    with serve_app(app) as url:
        state["url"] = f"{url}/v1"
        yield state


def _settings(server: dict[str, Any], **extra: Any) -> SimulatorSettings:
    return SimulatorSettings(
        engine="openai", model="sim", openai_base_url=server["url"], openai_backoff_s=0.01, **extra
    )


def test_openai_engine_retries_500s_then_succeeds(openai_server: dict[str, Any]) -> None:
    async def run() -> Any:
        engine = create_engine(_settings(openai_server, openai_retries=3))
        await engine.start()
        try:
            await engine.check()
            request = GenerationRequest(
                build_prompt("moby dick", "useful", k=2), 80, seed=3, stop=("Doc 3:",)
            )
            return await engine.generate([request])
        finally:
            await engine.aclose()

    openai_server.update(fail=2, status=500, calls=[])
    [out] = asyncio.run(run())
    assert len(openai_server["calls"]) == 3  # two 500s, then success
    body = openai_server["calls"][-1]
    assert body["seed"] == 3 and body["max_tokens"] == 80 and body["stop"] == ["Doc 3:"]
    assert body["temperature"] == 0.8 and body["top_p"] == 1.0  # plain sampling, as the reference's vLLM
    assert body["messages"][-1]["role"] == "user"
    assert out.text.startswith(" (Title: Moby-Dick)") and out.completion_tokens == 30


def test_openai_engine_gives_up_after_bounded_retries_and_not_on_4xx(openai_server: dict[str, Any]) -> None:
    async def run() -> None:
        engine = create_engine(_settings(openai_server, openai_retries=2))
        await engine.start()
        try:
            await engine.generate([GenerationRequest(build_prompt("q", "noisy"), 10)])
        finally:
            await engine.aclose()

    openai_server.update(fail=5, status=503, calls=[])
    with pytest.raises(EngineError, match="after 2 attempts"):
        asyncio.run(run())
    assert len(openai_server["calls"]) == 2
    openai_server.update(fail=1, status=400, calls=[])
    with pytest.raises(EngineError, match="answered HTTP 400"):
        asyncio.run(run())
    assert len(openai_server["calls"]) == 1


def test_app_on_the_openai_engine_serves_search(openai_server: dict[str, Any]) -> None:
    from zerosearch.simulator.app import create_app

    openai_server.update(fail=0, calls=[])
    with serve_app(create_app(_settings(openai_server))) as url:
        body = httpx.get(f"{url}/search", params={"q": "moby dick", "k": 2}).json()
        assert [d["title"] for d in body["documents"]] == ["Moby-Dick", "Whale"]
        assert body["warning"] is None and body["model"] == "sim"
        assert httpx.get(f"{url}/readyz").status_code == 200
