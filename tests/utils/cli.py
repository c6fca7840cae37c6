"""Run the real ``zerosearch`` entry point in-process and read what a user would see on stderr."""

from __future__ import annotations

import re

import pytest

from zerosearch.cli import main

__all__ = ["run_cli", "user_lines"]

_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")


def user_lines(stderr: str) -> list[str]:
    """The non-blank stderr lines that are not timestamped log records (the red error line, tables)."""
    return [line for line in stderr.splitlines() if line.strip() and not _LOG_LINE.match(line)]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    """Exit code of ``zerosearch *args`` and its user-facing stderr lines."""
    code = main(list(args))
    return code, user_lines(capsys.readouterr().err)
