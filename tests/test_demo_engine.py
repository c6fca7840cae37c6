"""Which simulator engine the demo starts: llama.cpp's server when its binary is there, else ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerosearch.demo import simulator_engine


def test_a_configured_llama_server_means_llamacpp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEROSEARCH_LLAMA_SERVER_PATH", "/somewhere/llama-server")
    assert simulator_engine() == "llamacpp"


def test_no_binary_and_no_build_tools_means_transformers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zerosearch.common.settings import get_common_settings

    monkeypatch.setenv("PATH", str(tmp_path))  # no llama-server, no cmake, no compiler
    monkeypatch.setenv("ZEROSEARCH_CACHE_DIR", str(tmp_path / "cache"))  # no cached build
    get_common_settings.cache_clear()
    try:
        assert simulator_engine() == "transformers"
    finally:
        get_common_settings.cache_clear()


def test_a_cached_build_means_llamacpp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zerosearch.common.settings import get_common_settings
    from zerosearch.simulator.engines.llama_server import cached_llama_server

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("ZEROSEARCH_CACHE_DIR", str(tmp_path / "cache"))
    get_common_settings.cache_clear()
    try:
        binary = cached_llama_server()
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
        assert simulator_engine() == "llamacpp"
    finally:
        get_common_settings.cache_clear()


def test_build_tools_alone_do_not_start_a_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cmake and a compiler on PATH but no binary: the demo uses transformers (make install builds it)."""
    import shutil

    from zerosearch.common.settings import get_common_settings

    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("cmake", "g++"):
        real = shutil.which(name)
        if real is None:
            pytest.skip(f"{name} not on this machine")
        (tools / name).symlink_to(real)
    monkeypatch.setenv("PATH", str(tools))
    monkeypatch.delenv("ZEROSEARCH_LLAMA_SERVER_PATH", raising=False)
    monkeypatch.setenv("ZEROSEARCH_CACHE_DIR", str(tmp_path / "cache"))
    get_common_settings.cache_clear()
    try:
        assert simulator_engine() == "transformers"
    finally:
        get_common_settings.cache_clear()
