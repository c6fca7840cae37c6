"""The CLI's error contract: usage errors name the flag (exit 2), our errors are one red line (exit 1)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zerosearch.cli import main
from zerosearch.common.connection import free_port


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zerosearch.cli", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_unknown_verb_is_a_usage_error_without_traceback() -> None:
    result = _run("trainer", "wrk")
    assert result.returncode == 2
    assert "No such command 'wrk'" in result.stderr
    assert "Traceback" not in result.stderr


def test_our_errors_are_one_line_exit_1(redis_url: str) -> None:
    result = _run("jobs", "show", "no-such-job", env={**os.environ, "REDIS_URL": redis_url})
    assert result.returncode == 1
    assert "ClientError: no job with id 'no-such-job'" in result.stderr
    assert "Traceback" not in result.stderr


def test_main_returns_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "simulator" in capsys.readouterr().out
    assert main(["eval", "run", "--limit", "0"]) == 2  # a usage error names the flag
    assert "--limit" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps: [1, 2\n", "is not valid YAML"),
        ("- steps\n", "must hold a mapping of fields, got list"),
    ],
)
def test_demo_refuses_a_bad_config_before_starting_anything(tmp_path, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    result = _run("demo", "--config", str(config), "--out", str(tmp_path / "out"))
    assert result.returncode == 1 and message in " ".join(result.stderr.split())  # rich may wrap lines
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # no Redis, simulator or folder was started


def _one_red_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]  # one line, no traceback, not wrapped
    return lines[0]


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        (None, "DatasetError: no offline data folder ({root}/missing); restore data/ in the checkout"),
        ({}, "DatasetError: dataset nq not found: {root}/data/qa/nq.jsonl; restore data/"),
        (
            {"qa/nq.jsonl": "{}\n"},
            "DatasetError: passage corpus not found: {root}/data/corpus/wiki_mini.jsonl",
        ),
    ],
)
def test_demo_checks_its_data_before_starting_anything(
    tmp_path: Path, layout: dict[str, str] | None, message: str
) -> None:
    data = tmp_path / ("missing" if layout is None else "data")
    for name, text in (layout or {}).items():
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text(text)
    if layout == {}:
        data.mkdir()
    env = {**os.environ, "ZEROSEARCH_DATA_DIR": str(data)}
    env.pop("REDIS_URL", None)
    result = _run("demo", "--hotpotqa", "0", "--out", str(tmp_path / "out"), env=env)
    assert _one_red_line(result).startswith(message.format(root=tmp_path))
    assert not (tmp_path / "out").exists()  # nothing was started or written


def test_demo_checks_redis_before_starting_anything(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    result = _run("demo", "--out", str(tmp_path / "out"), env={**os.environ, "REDIS_URL": url})
    assert _one_red_line(result).startswith(f"RedisUnavailableError: cannot reach Redis at {url}")
    assert not (tmp_path / "out").exists()


def test_simulator_refuses_a_taken_port_before_loading_the_model() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.perf_counter()
        result = _run("simulator", "serve", "--host", "127.0.0.1", "--port", str(port))
    assert _one_red_line(result) == (
        f"ConfigError: --port {port}: 127.0.0.1:{port} is already in use; pick another port or stop what "
        "listens there"
    )
    assert time.perf_counter() - started < 30  # no model was loaded


def test_eval_run_checks_its_data_before_loading_the_model(tmp_path: Path) -> None:
    result = _run("eval", "run", "--data-dir", str(tmp_path), "--source", "local", "-n", "1")
    assert _one_red_line(result).startswith("DatasetError: dataset 'nq' (eval split): no local file")
