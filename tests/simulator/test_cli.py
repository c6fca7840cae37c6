"""``zerosearch simulator serve``: flags, env settings, and one red line for a bad value."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from zerosearch.cli import app, main


def test_serve_help_lists_the_contract_flags() -> None:
    result = CliRunner().invoke(app, ["simulator", "serve", "--help"])
    assert result.exit_code == 0, result.output
    for flag in ("--host", "--port", "--engine", "--model", "--prompt-style", "--max-batch-size",
                 "--batch-wait-ms", "--max-queue"):  # fmt: skip
        assert flag in result.output


def test_bad_engine_is_one_red_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulator", "serve", "--engine", "tgi"]) == 1
    err = capsys.readouterr().err
    assert "ConfigError" in err and "engine" in err and "Traceback" not in err


def test_missing_vllm_is_one_red_line_in_a_real_process() -> None:
    code = "import sys; from zerosearch.cli import main; sys.exit(main(['simulator', 'serve', '--engine', 'vllm']))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "ConfigError" in proc.stderr and "vLLM" in proc.stderr and "Traceback" not in proc.stderr
