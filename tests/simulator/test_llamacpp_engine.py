"""The llamacpp engine: llama-server located in order, built once into the cache, and generating for real.

The lookup-order tests need no build. The engine tests run the real bundled GGUF in a real llama-server
(built from the pinned llama-cpp-python sdist into the cache the first time, as CI does): seeded
reproducibility, the stop at ``Doc k+1``, the token budget, /search end to end, and no orphan process.
"""

from __future__ import annotations

import asyncio
import contextlib
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.simulator.conftest import serve_app
from zerosearch.common.errors import ConfigError, EngineError
from zerosearch.common.models import load_tokenizer
from zerosearch.simulator.engines.base import Generation, GenerationRequest
from zerosearch.simulator.engines.llama_server import (
    BUILD_TAG,
    LLAMA_CPP_PYTHON_VERSION,
    build_llama_server,
    cached_llama_server,
    find_llama_server,
    llama_server_binary,
)
from zerosearch.simulator.engines.llamacpp import LlamaCppEngine
from zerosearch.simulator.prompts import Mode, build_prompt
from zerosearch.simulator.settings import SimulatorSettings, get_simulator_settings


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 1\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# --- lookup order, no build ---------------------------------------------------------------------------


def test_configured_path_wins_over_path_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = _executable(tmp_path / "bin" / "llama-server")
    _executable(cached_llama_server(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(on_path.parent))
    mine = _executable(tmp_path / "mine" / "my-llama-server")
    assert find_llama_server(mine, tmp_path / "cache") == mine
    assert find_llama_server(None, tmp_path / "cache") == on_path


def test_cache_is_used_when_nothing_is_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    cache = tmp_path / "cache"
    assert find_llama_server(None, cache) is None
    built = _executable(cached_llama_server(cache))
    assert built == cache / "llama.cpp" / f"{LLAMA_CPP_PYTHON_VERSION}-{BUILD_TAG}" / "bin" / "llama-server"
    assert llama_server_binary(None, build=False, cache_dir=cache) == built


def test_a_bad_configured_path_is_an_error_not_skipped(tmp_path: Path) -> None:
    not_exec = tmp_path / "llama-server"
    not_exec.write_text("")
    for bad in (tmp_path / "missing", not_exec):
        with pytest.raises(EngineError, match="ZEROSEARCH_LLAMA_SERVER_PATH"):
            find_llama_server(bad, tmp_path)


def test_nothing_found_without_build_names_the_fixes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(EngineError, match=r"build-llama-server.*ZEROSEARCH_LLAMA_SERVER_PATH"):
        llama_server_binary(None, build=False, cache_dir=tmp_path)


def test_build_without_cmake_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(EngineError) as info:
        build_llama_server(tmp_path)
    assert "cmake" in str(info.value) and "ZEROSEARCH_LLAMA_SERVER_PATH" in str(info.value)
    assert "\n" not in str(info.value)


def test_x86_builds_leave_amx_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """-march=native turns AMX on where the CPU reports it; a VM that reports it without granting it kills
    llama-server with SIGILL, so x86 builds pass -mno-amx-* (explicit flags win over -march=native)."""
    from zerosearch.simulator.engines import llama_server as module

    commands: list[list[str]] = []

    def run(command: list[str], what: str, log_path: Path) -> None:
        commands.append(command)
        if what == "cmake build":
            _executable(tmp_path / "build" / "bin" / "llama-server")

    monkeypatch.setattr(module, "_require_tools", lambda: ("cmake", None))
    monkeypatch.setattr(module, "_download_sdist", lambda folder, log_path: folder / "sdist.tar.gz")
    monkeypatch.setattr(module, "_unpack", lambda archive, folder: tmp_path)
    monkeypatch.setattr(module, "_run", run)
    monkeypatch.setattr(
        module.tempfile, "TemporaryDirectory", lambda prefix: contextlib.nullcontext(tmp_path)
    )
    for machine, amx_off in (("x86_64", True), ("aarch64", False)):
        monkeypatch.setattr(module.platform, "machine", lambda machine=machine: machine)
        built = build_llama_server(tmp_path / machine, force=True)
        configure = commands[-2]
        flags = [arg for arg in configure if arg.startswith(("-DCMAKE_C_FLAGS=", "-DCMAKE_CXX_FLAGS="))]
        assert built.parent.parent.name == f"{LLAMA_CPP_PYTHON_VERSION}-{BUILD_TAG}"
        assert (
            len(flags) == 2 and all("-mno-amx-tile" in f and "-mno-amx-int8" in f for f in flags)
        ) is amx_off
        assert amx_off or not flags


def test_llamacpp_needs_a_gguf_model() -> None:
    with pytest.raises(ConfigError, match="GGUF") as info:
        get_simulator_settings(engine="llamacpp", model="Qwen/Qwen2.5-3B-Instruct")
    assert info.value.param == "model"
    assert get_simulator_settings(engine="llamacpp", model="smollm2-135m").engine == "llamacpp"


def test_a_binary_that_dies_at_start_is_an_engine_error_with_its_log(tmp_path: Path) -> None:
    dying = _executable(tmp_path / "llama-server")
    engine = LlamaCppEngine(SimulatorSettings(engine="llamacpp", llama_server_path=dying), tokenizer=object())
    with pytest.raises(EngineError, match="exited with code 1"):
        asyncio.run(engine.start())
    assert engine.process is None


def test_a_missing_gguf_file_is_an_engine_error(tmp_path: Path) -> None:
    engine = LlamaCppEngine(SimulatorSettings(engine="llamacpp", model=str(tmp_path / "none.gguf")))
    with pytest.raises(EngineError, match="model file not found"):
        asyncio.run(engine.start())


# --- the real llama-server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(
    llama_server: Path, bundled_model_path: str
) -> Iterator[tuple[LlamaCppEngine, asyncio.AbstractEventLoop]]:
    """One started engine (2 slots) and the event loop it lives on."""
    settings = SimulatorSettings(engine="llamacpp", max_batch_size=2, max_new_tokens=96, threads=2)
    eng = LlamaCppEngine(settings, tokenizer=load_tokenizer(bundled_model_path))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(eng.start())
    yield eng, loop
    process = eng.process
    loop.run_until_complete(eng.aclose())
    loop.close()
    assert process is not None and process.poll() is not None  # no orphan


def test_a_sigill_at_start_restarts_with_the_plain_cpu_kernels(
    llama_server: Path, bundled_model_path: str, tmp_path: Path
) -> None:
    """A llama-server built for a CPU feature the machine reports but does not grant (AMX on some VMs) dies
    of SIGILL: the engine starts it again with --no-repack and serves. The stand-in binary dies of SIGILL
    unless that flag is given, then runs the real llama-server."""
    wrapper = tmp_path / "llama-server"
    wrapper.write_text(
        f'#!/bin/sh\ncase " $* " in *" --no-repack "*) exec "{llama_server}" "$@";; esac\nkill -ILL $$\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    settings = SimulatorSettings(  # flash attention set: its measurement is tested on its own
        engine="llamacpp", max_batch_size=1, max_new_tokens=8, threads=2, llama_server_path=wrapper,
        flash_attention="off",
    )  # fmt: skip
    eng = LlamaCppEngine(settings, tokenizer=load_tokenizer(bundled_model_path))
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(eng.start())
        assert eng.extra_args == ("--no-repack",)
        [generation] = loop.run_until_complete(eng.generate([_request(1, budget=8)]))
        assert generation.completion_tokens > 0
    finally:
        loop.run_until_complete(eng.aclose())
        loop.close()


def _request(seed: int, budget: int = 96, stop: tuple[str, ...] = ()) -> GenerationRequest:
    prompt = build_prompt("history of the eiffel tower", Mode.USEFUL, k=1)
    return GenerationRequest(prompt, max_new_tokens=budget, seed=seed, stop=stop)


def test_same_seed_same_text(engine: tuple[LlamaCppEngine, asyncio.AbstractEventLoop]) -> None:
    eng, loop = engine
    # One at a time: llama.cpp's kernels are not batch-invariant, so "the same conditions" means the
    # same batch company and the same cache state: the first call prefills the prompt's tail, its repeats
    # read it from the slot's cache (docs/simulator.md, llamacpp engine).
    first, second, again = (loop.run_until_complete(eng.generate([_request(7)]))[0] for _ in range(3))
    [other] = loop.run_until_complete(eng.generate([_request(8)]))
    assert second.text == again.text and first.completion_tokens > 0 and second.completion_tokens > 0
    assert other.text != second.text
    assert first.prompt_tokens > 200  # the one-shot prompt, rendered by the HF chat template


def test_stops_before_doc_k_plus_1_and_keeps_the_budget(
    engine: tuple[LlamaCppEngine, asyncio.AbstractEventLoop],
) -> None:
    eng, loop = engine

    def generate(request: GenerationRequest) -> Generation:
        return loop.run_until_complete(eng.generate([request]))[0]

    # Same cache state for every call (docs/simulator.md, "Seeds"): a first call puts the prompt in a slot.
    generate(_request(3, budget=1))
    free = generate(_request(3))
    # The simulator stops at "Doc k+1"; within 96 tokens the sampled text does not always reach a second
    # document, so then the stop string is a later piece of the free text (the same stop rule either way).
    stop = ("Doc 2:", "Doc 2 ") if "Doc 2" in free.text else (free.text[len(free.text) // 2 :][:10],)
    stopped, short = generate(_request(3, stop=stop)), generate(_request(3, budget=5))
    assert not any(s in stopped.text for s in stop) and free.text.startswith(stopped.text)
    assert not stopped.truncated and stopped.completion_tokens < free.completion_tokens
    assert short.completion_tokens == 5 and short.truncated and free.text.startswith(short.text)


@pytest.mark.slow
def test_search_end_to_end_with_llamacpp(llama_server: Path) -> None:
    from zerosearch.simulator.app import create_app

    settings = SimulatorSettings(engine="llamacpp", max_batch_size=2, tokens_per_document=60, threads=2)
    app = create_app(settings)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        assert http.get("/readyz").json()["engine"] == "llamacpp"
        params = {"q": "who wrote moby dick", "k": 2, "seed": 5}
        # No Redis here: every call is generated again, one at a time. The first prefills the prompt's tail,
        # its repeats read it from the slot's cache, so the repeats must match each other (docs/simulator.md).
        first, second, third = (http.get("/search", params=params).json() for _ in range(3))
        engine = app.state.service.engine
        process = engine.process
    assert 1 <= len(first["documents"]) <= 2 and second["documents"] == third["documents"]
    assert process is not None and process.poll() is not None  # stopped with the app
