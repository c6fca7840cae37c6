"""The run folder never clobbers another run, resumes from the newest complete checkpoint, trims metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zerosearch.common.errors import ConfigError, SearchBackendError
from zerosearch.trainer.config import parse_train_config
from zerosearch.trainer.run_dir import RunDir

SNAPSHOT = {"model": "m", "steps": 10, "eval": {"limit": 5}, "resume": "auto"}


def _checkpoint(root: Path, step: int, complete: bool = True) -> None:
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    if complete:
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))


def test_fresh_then_resume_from_newest_complete_checkpoint(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    assert run.prepare(SNAPSHOT, resume="auto") is None
    _checkpoint(run.root, 2)
    _checkpoint(run.root, 10)
    _checkpoint(run.root, 12, complete=False)  # killed while saving: never used
    # eval settings may change between a run and its resumption.
    assert run.prepare({**SNAPSHOT, "eval": {"limit": 50}}, resume="auto") == run.root / "checkpoint-10"


def test_a_different_run_or_foreign_folder_is_refused(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.prepare(SNAPSHOT, resume="auto")
    with pytest.raises(ConfigError, match=r"different config \(steps changed\)"):
        run.prepare({**SNAPSHOT, "steps": 20}, resume="auto")
    with pytest.raises(ConfigError, match="resume is 'never'"):
        run.prepare(SNAPSHOT, resume="never")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds no run of ours"):
        RunDir(foreign).prepare(SNAPSHOT, resume="auto")
    assert (foreign / "notes.txt").read_text() == "mine"


def test_a_new_folder_may_hold_a_pool_chosen_before(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.root.mkdir()
    run.pool_file.write_text(json.dumps({"pool": ["q"]}))  # the experiment's first arm chose it
    assert run.prepare(SNAPSHOT, resume="never") is None
    assert json.loads(run.pool_file.read_text()) == {"pool": ["q"]}


def test_trim_metrics_drops_steps_past_the_checkpoint(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.metrics_file.write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3)))
    run.trim_metrics(2)
    assert [m["step"] for m in run.read_metrics()] == [1, 2]


def test_unreachable_simulator_fails_before_anything_loads(tmp_path: Path, data_dir: Path) -> None:
    from zerosearch.trainer.grpo import train

    out = tmp_path / "run"
    config = parse_train_config(
        {
            "model": "smollm2-135m",
            "simulator_url": "http://127.0.0.1:9",  # nothing listens on the discard port
            "datasets": ["nq"],
            "data_dir": str(data_dir),
            "prompts_per_step": 1,
            "num_generations": 2,
            "output_dir": str(out),
            "eval": {"enabled": False},
        }
    )
    with pytest.raises(SearchBackendError, match=r"simulator unreachable at http://127\.0\.0\.1:9"):
        train(config)
    assert not out.exists()  # failed before the run folder (and any model) was touched


def test_a_folder_in_use_by_a_live_process_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    run = RunDir(tmp_path / "run")
    run.prepare(SNAPSHOT, resume="auto")
    holder = run.lock()
    # Another process (a second worker, or an orphaned work horse) may not train in the same folder.
    code = (
        "import sys; from pathlib import Path; from zerosearch.trainer.run_dir import RunDir\n"
        "from zerosearch.common.errors import ConfigError\n"
        f"try: RunDir(Path({str(run.root)!r})).lock()\n"
        "except ConfigError as e: print(e.message); sys.exit(3)\n"
    )
    busy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert busy.returncode == 3 and "in use by another training process" in busy.stdout
    holder.release()
    free = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert free.returncode == 0, free.stderr
