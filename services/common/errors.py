"""The exception tree of the platform.

    ZeroSearchError
    ├── ClientError                 bad input from outside (HTTP 4xx, CLI usage, config files, datasets)
    │   ├── ConfigError             a setting or run-config value is out of range or unknown
    │   ├── DatasetError            a dataset file is missing or malformed (names file and line)
    │   └── ModelNotFoundError      a model alias, path or id cannot be resolved
    └── ServerError                 our side failed (HTTP 5xx)
        ├── EngineError             an LLM engine failed to generate
        ├── EngineOverloadedError   the engine queue is full (HTTP 503 with Retry-After)
        ├── SearchBackendError      a search backend failed or cannot be reached
        └── RedisUnavailableError   Redis cannot be reached or started

Client errors carry the offending parameter so that a message can name it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ClientError",
    "ConfigError",
    "DatasetError",
    "EngineError",
    "EngineOverloadedError",
    "ModelNotFoundError",
    "RedisUnavailableError",
    "SearchBackendError",
    "ServerError",
    "ZeroSearchError",
]


class ZeroSearchError(Exception):
    """Base of every error the platform raises on purpose."""

    status_code = 500

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class ClientError(ZeroSearchError):
    """The caller gave something we cannot use; the message says what to give instead."""

    status_code = 422


class ConfigError(ClientError):
    """A setting or a run-config field is out of range, unknown or missing."""

    @classmethod
    def from_validation(cls, exc: Any, source: str = "config") -> ConfigError:
        """One error naming every bad field of a pydantic ``ValidationError`` (dotted path) and what is allowed.

        For example: ``invalid cpu-tiny.yaml: steps: steps must be ≥ 1, got 0; learnin_rate: unknown field
        (check the spelling)``.
        """
        parts = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(root)"
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown field (check the spelling)"
            elif err["type"] == "missing":
                message = "required field is missing"
            parts.append(f"{field}: {message}")
        first = exc.errors()[0]["loc"] if exc.errors() else ()
        return cls(f"invalid {source}: " + "; ".join(parts), param=".".join(str(p) for p in first) or None)


class DatasetError(ClientError):
    """A dataset or corpus file is missing or malformed."""


class ModelNotFoundError(ClientError):
    """A model alias, path or hub id cannot be resolved."""


class ServerError(ZeroSearchError):
    """Our side failed; the caller may retry."""

    status_code = 500


class EngineError(ServerError):
    """An LLM engine failed while generating."""


class EngineOverloadedError(ServerError):
    """The engine queue is full; retry after ``retry_after`` seconds."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SearchBackendError(ServerError):
    """A search backend failed or cannot be reached."""

    status_code = 502


class RedisUnavailableError(ServerError):
    """Redis cannot be reached, or the embedded one cannot be started."""

    status_code = 503
