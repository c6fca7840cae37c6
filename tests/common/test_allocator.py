"""The allocator policy: glibc keeps freed memory for reuse, here and in the processes started from here."""

from __future__ import annotations

import os
import platform

import pytest

from zerosearch.common.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD, keep_freed_memory

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only"
)


@glibc
def test_both_thresholds_are_set_here_and_for_children(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    applied = keep_freed_memory()
    assert applied == {"MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD, "MALLOC_TRIM_THRESHOLD_": TRIM_THRESHOLD}
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == str(MMAP_THRESHOLD)
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == str(TRIM_THRESHOLD)


@glibc
def test_the_callers_own_values_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert keep_freed_memory() == {"MALLOC_TRIM_THRESHOLD_": TRIM_THRESHOLD}
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == "131072"
