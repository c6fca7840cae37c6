"""Logging set-up shared by the CLI and the services."""

from __future__ import annotations

import logging

from rich.logging import RichHandler

__all__ = ["setup_logging"]


def setup_logging(level: str = "INFO") -> None:
    """Send platform logs to stderr through rich; quiet the chattiest libraries."""
    logging.basicConfig(
        level=level,
        format="%(name)s: %(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(rich_tracebacks=False, show_path=False)],
        force=True,
    )
    for noisy in ("httpx", "httpcore", "urllib3", "filelock", "datasets", "rq.worker"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
