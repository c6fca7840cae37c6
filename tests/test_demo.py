"""The demo's process handling: Ctrl-C stops every child. Shared helpers for the end-to-end demo run, which
tests/test_stranger.py makes in a fresh clone of the repository (jobs flow train → eval through a real Redis,
reports hold numbers from real generations, and no child outlives the demo)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(tmp_path: Path, root: Path = ROOT) -> Path:
    """configs/cpu-tiny.yaml of ``root`` shrunk to one GRPO step of one question (the smallest demo)."""
    config = yaml.safe_load((root / "configs" / "cpu-tiny.yaml").read_text())
    config.update(
        num_generations=2,  # the smallest group GRPO accepts
        prompts_per_step=1,  # one question a step
        steps=1,  # one GRPO step
    )
    config["rollout"].update(max_new_tokens=16, max_completion_tokens=192)  # short generations: CPU time
    config["cold_start"].update(examples=2, epochs=1, batch_size=2)  # a token cold start
    # the eval jobs inherit the rollout limits above (max_turns 1, 16 new tokens a turn)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_demo(
    tmp_path: Path, out: Path, *, root: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """The smallest demo (2 NQ + 1 HotpotQA held out, one step) as a CLI process; output in demo.log."""
    args = [
        "demo",
        "--nq",
        "2",
        "--hotpotqa",
        "1",
        "--train-questions",
        "4",
        "--steps",
        "1",
        "--searches",
        "1",
    ]
    args += ["--config", str(tiny_config(tmp_path, root)), "--out", str(out)]
    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # the demo starts its own Redis
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115 - closed by the caller's process end
    command = [sys.executable, "-m", "zerosearch.cli", *args]
    return subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=root)


def watch(demo: subprocess.Popen[bytes], timeout_s: float, until=None) -> set[int]:  # type: ignore[no-untyped-def]
    """Every descendant pid seen while the demo runs (RQ work horses included)."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while demo.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(psutil.Error):
            seen.update(p.pid for p in psutil.Process(demo.pid).children(recursive=True))
        if until is not None and until():
            break
        time.sleep(0.5)
    return seen


def alive(pids: set[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.Error:
            pass
    return alive


@pytest.mark.slow
def test_ctrl_c_stops_every_child(tmp_path: Path) -> None:
    out = tmp_path / "run"
    demo = start_demo(tmp_path, out)
    # Interrupt once the services are up and the showcase started.
    seen = watch(demo, timeout_s=300, until=lambda: "the idea:" in (tmp_path / "demo.log").read_text())
    assert demo.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
    seen |= watch(demo, timeout_s=1)
    demo.send_signal(signal.SIGINT)
    assert demo.wait(timeout=120) == 130
    assert len(seen) >= 4
    assert alive(seen) == []
    assert list((out / "redis").iterdir()) == []


def test_the_simulator_gets_the_slots_the_demo_uses_at_once() -> None:
    """A GRPO step's rollouts or the showcase's searches in both modes, whichever is more, at most 16."""
    from zerosearch.common.config_file import read_config_file
    from zerosearch.demo import _simulator_slots

    config = read_config_file(Path(__file__).resolve().parents[1] / "configs" / "cpu-tiny.yaml")
    assert _simulator_slots(config, searches=3) == 8  # 2 questions × 4 rollouts
    assert _simulator_slots(config, searches=6) == 12
    assert _simulator_slots({**config, "prompts_per_step": 8}, searches=3) == 16
