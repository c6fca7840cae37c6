"""A stranger's first run: a fresh clone of the repository, nothing beside it, runs the smallest demo to its
table.

The clone is ``git clone`` of this checkout's HEAD into an empty temporary folder (no ``../shared`` beside
it, ``ZEROSEARCH_DATA_DIR`` and ``REDIS_URL`` unset), so only committed files take part: the code, the
configs and ``data/``. To run it without reinstalling anything, the clone's ``services/`` is put first on
``PYTHONPATH`` as the ``zerosearch`` package (a symlink in the temporary folder); the test checks that the
package and its data folder really resolve into the clone. The virtualenv's installed dependencies and the
bundled model package are reused, and so is the machine's converted-model cache (~/.cache/zerosearch),
which a stranger's first run would fill by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_demo import alive, start_demo, watch

ROOT = Path(__file__).resolve().parents[1]

_WHERE = (
    "import zerosearch, zerosearch.common.settings as s; "
    "print(zerosearch.__file__); print(s.CommonSettings().data_dir)"
)


def _clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A clone of HEAD in an empty folder and the environment that runs its code (not this checkout's)."""
    clone = tmp_path / "stranger" / "zerosearch"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    packages = tmp_path / "stranger-packages"
    packages.mkdir()
    (packages / "zerosearch").symlink_to(clone / "services", target_is_directory=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"ZEROSEARCH_DATA_DIR", "REDIS_URL", "ZEROSEARCH_REDIS_URL", "PYTHONPATH"}
    }
    env["PYTHONPATH"] = str(packages)
    return clone, env


@pytest.mark.slow
def test_a_fresh_clone_runs_the_demo_to_its_table(tmp_path: Path) -> None:
    clone, env = _clone(tmp_path)
    assert sorted(p.name for p in clone.parent.iterdir()) == ["zerosearch"]  # nothing beside the clone
    where = subprocess.run(
        [sys.executable, "-c", _WHERE], env=env, cwd=clone, capture_output=True, text=True, check=True
    ).stdout.split()
    assert Path(where[0]).resolve().is_relative_to(clone) and Path(where[1]).resolve() == clone / "data"

    out = tmp_path / "run"
    demo = start_demo(tmp_path, out, root=clone, env=env)
    seen = watch(demo, timeout_s=900)
    assert demo.wait(timeout=60) == 0, (tmp_path / "demo.log").read_text()[-3000:]
    assert len(seen) >= 4  # redis-server, simulator, trainer worker, evaluator worker (+ work horses)
    assert alive(seen) == []
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
    # The showcase: useful vs noisy documents side by side, and the noise schedule.
    assert "useful mode: question and answer given" in log and "Noise curriculum (exponential)" in log
    assert "strict EM" in log and "(untrained)" in log and "GRPO)" in log  # the before/after table
    assert "cold start only (no GRPO)" in log and (out / "eval" / "cold_start" / "results.json").is_file()
