"""llama-server's flash attention for engine=llamacpp: the faster setting on this machine, measured once and kept.

The measurement test runs the real bundled GGUF in real llama-servers (built into the cache the first time,
as the engine tests do); the record's key and validation need no server.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from filelock import FileLock

from zerosearch.common.errors import ConfigError
from zerosearch.common.models import bundled_gguf_path, load_tokenizer
from zerosearch.simulator.engines.base import GenerationRequest
from zerosearch.simulator.engines.flash_attention import read_record, record_path
from zerosearch.simulator.engines.llamacpp import LlamaCppEngine
from zerosearch.simulator.prompts import Mode, build_prompt
from zerosearch.simulator.settings import SimulatorSettings, get_simulator_settings


def test_the_setting_is_validated_and_named() -> None:
    with pytest.raises(ConfigError, match="flash_attention") as info:
        get_simulator_settings(engine="llamacpp", flash_attention="maybe")
    assert info.value.param == "flash_attention"
    assert get_simulator_settings().flash_attention == "measure"


def test_a_chosen_setting_goes_on_the_command_line_and_measure_waits_for_start(tmp_path: Path) -> None:
    binary, model = tmp_path / "llama-server", tmp_path / "m.gguf"
    for setting in ("on", "off"):
        engine = LlamaCppEngine(SimulatorSettings(engine="llamacpp", flash_attention=setting))
        command = engine.command(binary, model, 8080)
        assert command[command.index("--flash-attn") + 1] == setting
    unmeasured = LlamaCppEngine(SimulatorSettings(engine="llamacpp"))
    assert unmeasured.flash_attention is None and "--flash-attn" not in unmeasured.command(
        binary, model, 8080
    )


def test_the_record_is_kept_per_binary_model_and_threads(tmp_path: Path) -> None:
    binary, other = tmp_path / "llama-server", tmp_path / "other-server"
    binary.write_text("a")
    other.write_text("b")
    model = bundled_gguf_path()
    path = record_path(tmp_path, binary, model, None, ())
    assert path.parent == tmp_path / "llama.cpp" / "flash-attention"
    assert path == record_path(tmp_path, binary, model, None, ())
    assert len({path, record_path(tmp_path, other, model, None, ()), record_path(tmp_path, binary, model, 2, ()),
                record_path(tmp_path, binary, model, None, ("--no-repack",))}) == 4  # fmt: skip


@pytest.mark.parametrize("text", ["", "{not json", "[]", '{"flash_attention": "maybe"}', '{"seconds": {}}'])
def test_a_damaged_record_is_measured_again(tmp_path: Path, text: str) -> None:
    path = tmp_path / "record.json"
    path.write_text(text)
    assert read_record(path) is None
    assert read_record(tmp_path / "missing.json") is None
    path.write_text(json.dumps({"flash_attention": "off", "seconds": {"on": 2.0, "off": 1.0}}))
    assert read_record(path) == "off"


def test_measured_once_then_read_and_used(
    llama_server: Path,
    bundled_model_path: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first start times both settings on real servers and keeps the faster; the next start reads it."""
    settings = SimulatorSettings(engine="llamacpp", max_batch_size=1, max_new_tokens=48, threads=2,
                                 cache_dir=tmp_path)  # fmt: skip
    tokenizer = load_tokenizer(bundled_model_path)

    def start() -> list[str]:
        engine = LlamaCppEngine(settings, tokenizer=tokenizer)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(engine.start())
            return list(engine.process.args)  # type: ignore[union-attr]
        finally:
            loop.run_until_complete(engine.aclose())
            loop.close()

    with caplog.at_level(logging.INFO, logger="zerosearch.simulator.engines.flash_attention"):
        first = start()
    [path] = (tmp_path / "llama.cpp" / "flash-attention").glob("*.json")
    record = json.loads(path.read_text())
    seconds = record["seconds"]
    assert set(seconds) == {"on", "off"} and all(s > 0 for s in seconds.values())
    assert record["flash_attention"] == min(seconds, key=seconds.__getitem__)
    assert first[first.index("--flash-attn") + 1] == record["flash_attention"]
    assert "measuring llama-server" in caplog.text
    FileLock(str(path.with_suffix(".lock")), timeout=0).acquire().lock.release()  # released after the start

    caplog.clear()
    kept = path.read_text()
    with caplog.at_level(logging.INFO, logger="zerosearch.simulator.engines.flash_attention"):
        second = start()
    assert "measuring" not in caplog.text and "measured on this machine earlier" in caplog.text
    assert second[second.index("--flash-attn") + 1] == record["flash_attention"] and path.read_text() == kept


def test_an_unwritable_cache_still_measures_and_starts(
    llama_server: Path, bundled_model_path: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache folder that cannot be created (here: a file is in the way) is a warning, never a failed start."""
    blocked = tmp_path / "cache"
    blocked.write_text("a file, not a folder")
    settings = SimulatorSettings(engine="llamacpp", max_batch_size=1, max_new_tokens=48, threads=2,
                                 cache_dir=blocked)  # fmt: skip
    engine = LlamaCppEngine(settings, tokenizer=load_tokenizer(bundled_model_path))
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.INFO, logger="zerosearch.simulator.engines.flash_attention"):
            loop.run_until_complete(engine.start())
        assert engine.flash_attention in ("on", "off")
        assert "cannot keep the flash-attention measurement" in caplog.text and "measuring" in caplog.text
        [generation] = loop.run_until_complete(engine.generate([_short_request()]))
        assert generation.completion_tokens > 0
    finally:
        loop.run_until_complete(engine.aclose())
        loop.close()


def _short_request() -> GenerationRequest:
    return GenerationRequest(
        build_prompt("history of the eiffel tower", Mode.USEFUL, k=1), max_new_tokens=8, seed=1
    )
