"""CPU thread policy of a ``zerosearch`` process: idle OpenMP threads sleep, and threads match the cores given.

torch's OpenMP runtime (libgomp) reads ``OMP_WAIT_POLICY`` and ``OMP_NUM_THREADS`` once, when torch is
imported. Left to its defaults, each idle thread spins for a while before sleeping; two torch processes
on the same cores then steal each other's time slices (two 8-question ``eval run`` at once took 15× as
long as one alone on 2 cores). The CLI therefore sets the policy before anything imports torch:

- ``OMP_WAIT_POLICY=PASSIVE`` unless the caller chose a policy;
- threads = ``--threads`` (root flag), else ``ZEROSEARCH_THREADS``, else ``OMP_NUM_THREADS`` when the
  caller set it, else the cores this process may run on (``os.sched_getaffinity``, so a container's or
  ``taskset``'s limit is respected);
- the count goes to ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` (children started by the demo inherit it)
  and to ``torch.set_num_threads`` when torch is already imported (torch caps an ``OMP_NUM_THREADS``
  above the machine's CPU count at that count when it loads).

Per-verb settings that are more specific (``simulator serve --threads``, ``eval run --cpu-threads``) still
win: they call ``torch.set_num_threads`` later, for their own engine.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

from zerosearch.common.errors import ConfigError

__all__ = ["THREADS_ENV", "ThreadPolicy", "apply_thread_policy", "available_cores", "resolve_threads"]

THREADS_ENV = "ZEROSEARCH_THREADS"
"""Environment variable that sets the CPU threads of every zerosearch process (the root ``--threads``)."""

_MAX_THREADS = 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThreadPolicy:
    """What a process applied: its thread count, where the count came from and the OpenMP wait policy."""

    threads: int
    source: str
    wait_policy: str


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask; all cores where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _parse(value: str, name: str) -> int:
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if not 1 <= threads <= _MAX_THREADS:
        raise ConfigError(
            f"{name}={value!r}: CPU threads must be a whole number from 1 to {_MAX_THREADS}", param=name
        )
    return threads


def resolve_threads(override: int | None = None) -> tuple[int, str]:
    """The thread count and its source: the flag, ``ZEROSEARCH_THREADS``, ``OMP_NUM_THREADS`` or the cores."""
    if override is not None:
        return _parse(str(override), "--threads"), "--threads"
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value:
            return _parse(value, name), name
    return available_cores(), "cores available"


def apply_thread_policy(override: int | None = None) -> ThreadPolicy:
    """Set the process's OpenMP/torch thread policy; call it before torch is imported.

    Idempotent: the demo's children run it again and arrive at the same count through the inherited
    ``OMP_NUM_THREADS``.
    """
    threads, source = resolve_threads(override)
    wait_policy = os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:  # imported earlier: the count can still change, the wait policy cannot
        torch.set_num_threads(threads)
        log.debug("torch was imported before the thread policy; OMP_WAIT_POLICY may not apply")
    log.debug("CPU threads %d (%s), OMP_WAIT_POLICY=%s", threads, source, wait_policy)
    return ThreadPolicy(threads=threads, source=source, wait_policy=wait_policy)
