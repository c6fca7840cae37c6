"""glibc's allocator keeps the memory torch frees for reuse instead of handing it back to the kernel.

Every decoding step grows each layer's KV cache by one column: torch allocates a new tensor (10-40 MB at
an evaluation's batch and context) and frees the old one. glibc serves a block above its mmap threshold
with fresh pages and unmaps it on free, and trims the heap top once more than its trim threshold is
free, so a step can fault the whole cache's pages in again. How often depends on what ran before (the
threshold moves with the blocks freed): an evaluation batch of 15 decoded at 250 ms a step after one
prefill and at 464-511 ms after another that only allocated differently (docs/benchmarks.md).

:func:`keep_freed_memory` fixes both thresholds for this process (``mallopt``) and, through
``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``, for the processes it starts:

- mmap threshold 32 MiB (glibc's largest on 64-bit): blocks up to that size come from the heap;
- trim threshold 1 GiB: up to that much freed heap is kept for the next allocation, so the process's
  resident memory may stay that far above what it uses.

A caller's own ``MALLOC_*_`` values win (glibc read them at start). Elsewhere (musl, macOS, Windows)
nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

MMAP_THRESHOLD = 32 * 1024 * 1024
"""Blocks up to this size come from the heap (glibc caps the threshold here on 64-bit)."""

TRIM_THRESHOLD = 1024 * 1024 * 1024
"""Freed heap kept for reuse before glibc returns any of it."""

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3

log = logging.getLogger(__name__)


def keep_freed_memory() -> dict[str, int]:
    """Set the thresholds here and for children; returns what this call set (name → bytes), empty when
    the C library is not glibc or the caller chose both."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return {}
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return {}
    applied = {}
    for name, parameter, value in (
        ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        ("MALLOC_TRIM_THRESHOLD_", _M_TRIM_THRESHOLD, TRIM_THRESHOLD),
    ):
        if name in os.environ:  # the caller's choice, read by glibc when this process started
            continue
        if libc.mallopt(parameter, value) != 1:
            log.debug("mallopt(%d, %d) was refused", parameter, value)
            continue
        os.environ[name] = str(value)
        applied[name] = value
    return applied
