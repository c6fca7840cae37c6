"""Every CLI ``--config`` reader answers an unusable file with one ConfigError line, before any work.

The verbs: eval run, eval submit, train run, train submit, sft submit and demo. The files: a folder,
non-UTF-8 bytes, an empty file, a comment-only file, broken YAML and a list instead of a mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.utils.cli import run_cli
from zerosearch.common.config_file import merge_config, read_config_file
from zerosearch.common.errors import ConfigError

VERBS = [
    ("eval", "run", "--config"),
    ("eval", "submit", "--config"),
    ("train", "run", "--config"),
    ("train", "submit", "--config"),
    ("sft", "submit", "--run-here", "--config"),
    ("demo", "--config"),
]

BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "folder": (lambda p: (p / "configs").mkdir() or p / "configs", "is not a file"),
    "latin-1": (lambda p: _write(p / "c.yaml", "model: caf\xe9\n".encode("latin-1")), "is not UTF-8 text"),
    "empty": (lambda p: _write(p / "c.yaml", b""), "is empty"),
    "comments only": (lambda p: _write(p / "c.yaml", b"# nothing set\n"), "is empty"),
    "broken yaml": (lambda p: _write(p / "c.yaml", b"model: [unclosed\n"), "is not valid YAML"),
    "a list": (lambda p: _write(p / "c.yaml", b"- nq\n- hotpotqa\n"), "must hold a mapping"),
    "missing": (lambda p: p / "nope.yaml", "config file not found"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v[:2]))
@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_every_config_reader_gives_one_line(
    verb: tuple[str, ...], kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("REDIS_URL", redis_url)  # submit verbs get past their Redis check to the file
    make, message = BAD_FILES[kind]
    path = make(tmp_path)
    code, lines = run_cli(capsys, *verb, str(path))
    assert code == 1, lines
    assert len(lines) == 1 and lines[0].startswith("ConfigError: ") and message in lines[0], lines
    assert str(path) in lines[0] and "Traceback" not in lines[0]


def test_merge_config_flags_given_win_over_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.yaml", b"limit: 5\nseed: 3\n")
    assert merge_config(path, {"limit": 9, "seed": None, "method": "rag"}) == {
        "limit": 9,
        "seed": 3,
        "method": "rag",
    }
    assert merge_config(None, {"limit": None, "top_k": 2}) == {"top_k": 2}


def test_yaml_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.yaml", b"model: a\nlimit: [1\nseed: 2\n")
    with pytest.raises(ConfigError, match=r"line \d") as info:
        read_config_file(path)
    assert info.value.param == "config"
