"""The one reader of ``--config`` files, and the one YAML + flags merge every CLI verb uses.

Every way a file can be wrong is one ConfigError line naming the file (param ``config``): missing or not a
file, unreadable, not UTF-8, not YAML, empty, or not a mapping of fields. An empty file is refused rather
than read as "all defaults" (an empty eval config would otherwise start a full evaluation).

    data = read_config_file("configs/cpu-tiny.yaml")        # then validate with the run's pydantic model
    data = merge_config("eval.yaml", {"limit": 20, "seed": None})   # flags given win; None = not given
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from zerosearch.common.errors import ConfigError

__all__ = ["merge_config", "read_config_file"]


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The file's top-level mapping; any unusable file is a ConfigError (param ``config``) in one line."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}", param="config")
    if not path.is_file():
        raise ConfigError(f"config {path} is not a file", param="config")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}", param="config") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 YAML", param="config"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"config {path} is not valid YAML{line}: {problem}", param="config") from None
    if data is None:
        raise ConfigError(f"config {path} is empty: give at least one field", param="config")
    if not isinstance(data, dict):
        raise ConfigError(
            f"config {path} must hold a mapping of fields, got {type(data).__name__}", param="config"
        )
    return data


def merge_config(path: str | Path | None, flags: dict[str, Any]) -> dict[str, Any]:
    """The config file's fields (none without ``path``), then every flag that was given (not None) on top."""
    data = read_config_file(path) if path is not None else {}
    data.update({key: value for key, value in flags.items() if value is not None})
    return data
