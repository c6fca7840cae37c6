"""Logging and console set-up shared by the CLI and the services.

On a terminal, logs go through rich (colours, aligned columns, wrapped to the window). When the output
is a file or a pipe (CI, ``make demo > log``, the demo's child processes), each record is one plain line
(``time LEVEL logger: message``) that is never wrapped, and consoles are wide enough for our tables.
"""

from __future__ import annotations

import logging
import os
import sys

from rich.console import Console
from rich.logging import RichHandler

__all__ = ["NON_TERMINAL_WIDTH", "make_console", "setup_logging"]

NON_TERMINAL_WIDTH = 200
"""Console width when the output is not a terminal (rich would otherwise wrap at 80 columns)."""

_QUIET = ("httpx", "httpcore", "urllib3", "filelock", "datasets", "rq.worker")


def make_console(*, stderr: bool = False) -> Console:
    """A rich console: the terminal's width on a terminal, else ``COLUMNS`` or a wide fixed width."""
    console = Console(stderr=stderr)
    if console.is_terminal:
        return console
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else NON_TERMINAL_WIDTH
    return Console(stderr=stderr, width=width)


def setup_logging(level: str = "INFO") -> None:
    """Send platform logs to stderr (rich on a terminal, one plain line a record otherwise)."""
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(rich_tracebacks=False, show_path=False)
        formatter = logging.Formatter("%(name)s: %(message)s", datefmt="[%X]")
    else:
        handler = logging.StreamHandler(sys.stderr)
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
        )
    handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
