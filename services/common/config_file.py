"""Read a YAML config file into a plain mapping, with a clear ConfigError for every way it can be wrong.

data = read_config_file("configs/cpu-tiny.yaml")   # then validate with the run's pydantic model
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from zerosearch.common.errors import ConfigError

__all__ = ["read_config_file"]


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The file's top-level mapping; a missing file, bad YAML or a non-mapping is a ConfigError (param config)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}", param="config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", param="config") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of fields, got {type(data).__name__}", param="config")
    return data
