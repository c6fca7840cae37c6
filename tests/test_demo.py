"""End to end at the smallest size: `zerosearch demo` brings every process up, jobs flow train → eval
through a real Redis, reports hold numbers from real generations, and no child outlives the demo."""

from __future__ import annotations

import contextlib
import json
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


def _tiny_config(tmp_path: Path) -> Path:
    config = yaml.safe_load((ROOT / "configs" / "cpu-tiny.yaml").read_text())
    config.update(
        num_generations=2,  # the smallest group GRPO accepts
        prompts_per_step=1,  # one question a step
        steps=1,  # one GRPO step
        max_new_tokens=16,  # short generations keep CPU time down
        max_completion_length=192,
    )
    config["cold_start"].update(examples=2, epochs=1, batch_size=2)  # a token cold start
    config["eval"].update(max_turns=1, extra={"max_new_tokens": 16})
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _demo(tmp_path: Path, out: Path) -> subprocess.Popen[bytes]:
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
    args += ["--config", str(_tiny_config(tmp_path)), "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # the demo starts its own Redis
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115 - closed by the caller's process end
    return subprocess.Popen([sys.executable, "-m", "zerosearch.cli", *args], stdout=log, stderr=log, env=env)


def _watch(demo: subprocess.Popen[bytes], timeout_s: float, until=None) -> set[int]:  # type: ignore[no-untyped-def]
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


def _alive(pids: set[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.Error:
            pass
    return alive


@pytest.mark.slow
def test_demo_flows_train_to_eval_and_leaves_nothing_running(tmp_path: Path) -> None:
    out = tmp_path / "run"
    demo = _demo(tmp_path, out)
    seen = _watch(demo, timeout_s=900)
    assert demo.wait(timeout=60) == 0, (tmp_path / "demo.log").read_text()[-3000:]
    assert len(seen) >= 4  # redis-server, simulator, trainer worker, evaluator worker (+ work horses)
    assert _alive(seen) == []
    assert list((out / "redis").iterdir()) == []  # the embedded Redis removed its files

    baseline = json.loads((out / "eval" / "baseline" / "results.json").read_text())
    final = json.loads((out / "train" / "eval" / "final" / "results.json").read_text())
    for results in (baseline, final):
        assert {d: r["n"] for d, r in results["datasets"].items()} == {"nq": 2, "hotpotqa": 1}
        for row in results["datasets"].values():
            assert 0.0 <= row["f1"] <= 100.0 and 0.0 <= row["format_valid"] <= 100.0
    predictions = (out / "train" / "eval" / "final" / "predictions.jsonl").read_text().splitlines()
    assert len(predictions) == 3 and all(json.loads(p)["trajectory"] for p in predictions)  # real generations
    metrics = (out / "train" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(m)["step"] for m in metrics] == [1]
    evals = [
        json.loads(line)["checkpoint"]
        for line in (out / "train" / "eval_jobs.jsonl").read_text().splitlines()
    ]
    assert evals == ["final"]  # enqueued by the training job itself (the demo saves only the final model)
    # Held-out questions never reach training.
    heldout = {
        json.loads(x)["id"]
        for f in (out / "data" / "heldout").glob("*.jsonl")
        for x in f.read_text().splitlines()
    }
    train = {
        json.loads(x)["id"]
        for f in (out / "data" / "train").glob("*.jsonl")
        for x in f.read_text().splitlines()
    }
    assert heldout and train and not heldout & train
    log = (tmp_path / "demo.log").read_text()
    assert "strict EM" in log and "(untrained)" in log and "GRPO)" in log  # the before/after table


@pytest.mark.slow
def test_ctrl_c_stops_every_child(tmp_path: Path) -> None:
    out = tmp_path / "run"
    demo = _demo(tmp_path, out)
    # Interrupt once the services are up and the showcase searches started (the simulator answered).
    seen = _watch(
        demo, timeout_s=300, until=lambda: "simulator: real searches" in (tmp_path / "demo.log").read_text()
    )
    assert demo.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
    seen |= _watch(demo, timeout_s=1)
    demo.send_signal(signal.SIGINT)
    assert demo.wait(timeout=120) == 130
    assert len(seen) >= 4
    assert _alive(seen) == []
    assert list((out / "redis").iterdir()) == []
