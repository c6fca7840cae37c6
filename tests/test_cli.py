"""The CLI's error contract: usage errors name the flag (exit 2), our errors are one red line (exit 1)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from zerosearch.cli import main


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
    import os

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
