"""The train/trainer verbs: curriculum output, plots, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from zerosearch.cli import main


def test_curriculum_prints_one_line_per_step(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plot = tmp_path / "schedule.png"
    assert main(["train", "curriculum", "--steps", "203", "--plot", str(plot)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 203
    assert lines[0] == "1 0.0011"
    assert lines[99] == "100 0.1633"
    assert lines[-1] == "203 0.5000"
    assert plot.stat().st_size > 1000


def test_curriculum_linear_and_flags(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "curriculum", "--steps", "4", "--kind", "linear", "--p-start", "0.1", "--p-end", "0.5"]
    assert main(argv) == 0
    assert capsys.readouterr().out.split("\n")[:4] == ["1 0.2000", "2 0.3000", "3 0.4000", "4 0.5000"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "curriculum", "--steps", "5", "--kind", "cosine"], "curriculum.kind must be one of"),
        (["train", "curriculum", "--steps", "5", "--base", "1"], "curriculum.base must be > 0 and ≠ 1"),
        (["train", "run", "--config", "nope.yaml"], "config file not found: nope.yaml"),
        (["trainer", "worker", "--queues", "eval"], "--queues: unknown queue 'eval'"),
    ],
)
def test_bad_input_is_one_red_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


def test_out_of_range_flag_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "curriculum", "--steps", "5", "--p-end", "1.5"]) != 0
    assert "--p-end" in capsys.readouterr().err


def test_submit_enqueues_on_train(
    redis_conn, redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from zerosearch.common.queue import get_queue

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("ZEROSEARCH_REDIS_URL", redis_url)
    argv = [
        "train",
        "submit",
        "--config",
        str(repo / "configs" / "cpu-tiny.yaml"),
        "--output-dir",
        str(tmp_path),
    ]
    assert main(argv) == 0
    [job] = get_queue(redis_conn, "train").jobs
    assert job.func_name == "zerosearch.trainer.jobs.run_train_job"
    shipped = yaml.safe_load((repo / "configs" / "cpu-tiny.yaml").read_text())
    assert job.args[0]["output_dir"] == str(tmp_path) and job.args[0]["steps"] == shipped["steps"]
