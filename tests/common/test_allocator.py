"""The allocator policy: glibc keeps freed memory for reuse, in the process and in the ones it starts.

Each case runs in a fresh interpreter: the thresholds are process-wide, and the test process's own must
stay glibc's defaults.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from zerosearch.common.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only"
)

_PROBE = """
import json, os, subprocess, sys
from zerosearch.common.allocator import keep_freed_memory
applied = keep_freed_memory()
child = subprocess.run([sys.executable, "-c", "import os, json; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('MALLOC_')}))"],
                       capture_output=True, text=True, check=True).stdout
print(json.dumps({"applied": applied, "child": json.loads(child)}))
"""


def _probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_both_thresholds_are_set_here_and_for_children() -> None:
    seen = _probe()
    expected = {"MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD, "MALLOC_TRIM_THRESHOLD_": TRIM_THRESHOLD}
    assert seen["applied"] == expected
    assert seen["child"] == {name: str(value) for name, value in expected.items()}


def test_the_callers_own_values_win() -> None:
    seen = _probe(MALLOC_MMAP_THRESHOLD_="131072")
    assert seen["applied"] == {"MALLOC_TRIM_THRESHOLD_": TRIM_THRESHOLD}
    assert seen["child"]["MALLOC_MMAP_THRESHOLD_"] == "131072"
