"""The CLI sets its own CPU thread policy: passive OpenMP waiting and threads sized to the cores it is given.

Each test runs a real CLI process, then imports torch in it the way a verb does, and reads what torch and
its OpenMP runtime actually use (``OMP_DISPLAY_ENV`` makes libgomp print its settings when it loads).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from zerosearch.common.threads import available_cores, resolve_threads

# Runs the CLI's main on a cheap verb (it imports torch after the root callback set the policy), then
# reports what torch uses.
_PROBE = (
    "import os, sys\n"
    "from zerosearch.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "import torch\n"
    "print(code, torch.get_num_threads(), os.environ['OMP_NUM_THREADS'], os.environ['OMP_WAIT_POLICY'])\n"
)
_VERB = ["train", "curriculum", "--steps", "2"]


def _probe(
    *args: str, env: dict[str, str] | None = None, preexec_fn: Callable[[], None] | None = None
) -> tuple[list[str], str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "ZEROSEARCH_THREADS"}
    }
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "OMP_DISPLAY_ENV": "TRUE", **(env or {})},
        preexec_fn=preexec_fn,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1].split(), result.stdout + result.stderr


def test_default_is_passive_and_sized_to_the_affinity_mask() -> None:
    first_core = min(os.sched_getaffinity(0))
    report, output = _probe(*_VERB, preexec_fn=lambda: os.sched_setaffinity(0, {first_core}))
    assert report == ["0", "1", "1", "PASSIVE"]  # one core given → one thread
    # libgomp itself loaded with the policy (it reads the environment once, when torch loads it).
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in output and "OMP_NUM_THREADS = '1'" in output


def test_env_var_then_flag_override() -> None:
    # Counts up to the machine's CPUs: torch caps a larger OMP_NUM_THREADS at the CPU count when it loads.
    report, _ = _probe(*_VERB, env={"ZEROSEARCH_THREADS": "1"})
    assert report == ["0", "1", "1", "PASSIVE"]
    report, output = _probe("--threads", "1", *_VERB, env={"ZEROSEARCH_THREADS": "2"})
    assert report == ["0", "1", "1", "PASSIVE"]  # the flag wins
    assert "OMP_NUM_THREADS = '1'" in output


def test_a_caller_policy_is_kept() -> None:
    report, _ = _probe(*_VERB, env={"OMP_WAIT_POLICY": "ACTIVE", "OMP_NUM_THREADS": "1"})
    assert report == ["0", "1", "1", "ACTIVE"]


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_thread_count_is_one_red_line(value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "zerosearch.cli", *_VERB],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ZEROSEARCH_THREADS": value},
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"ConfigError: ZEROSEARCH_THREADS={value!r}: CPU threads must be a whole number from 1 to 1024"
    ]


def test_resolve_threads_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZEROSEARCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert resolve_threads() == (available_cores(), "cores available")
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert resolve_threads() == (5, "OMP_NUM_THREADS")
    monkeypatch.setenv("ZEROSEARCH_THREADS", "4")
    assert resolve_threads() == (4, "ZEROSEARCH_THREADS")
    assert resolve_threads(2) == (2, "--threads")
