"""The package layout: every service folder is packaged, the CLI answers, the public surface is pinned."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        "zerosearch" + ".".join(["", *p.parent.relative_to(ROOT / "services").parts])
        for p in (ROOT / "services").rglob("__init__.py")
    }
    assert found == listed


def test_cli_lists_every_verb_of_the_design() -> None:
    from zerosearch.cli import app

    runner = CliRunner()
    for group, verbs in {
        "simulator": ["serve"],
        "train": ["run", "submit", "curriculum"],
        "trainer": ["worker"],
        "eval": ["run", "submit"],
        "evaluator": ["worker"],
        "jobs": ["list", "show"],
    }.items():
        result = runner.invoke(app, [group, "--help"])
        assert result.exit_code == 0, result.output
        for verb in verbs:
            assert verb in result.output, f"zerosearch {group} {verb} is missing"
