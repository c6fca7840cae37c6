"""The experiment package in seconds: the file's validation, the shipped arms, the table and the SE statistic."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from zerosearch.common.errors import ConfigError
from zerosearch.experiment.arms import SplitFiles, check_shared_cold_start, train_payload
from zerosearch.experiment.cli import DEFAULT_EXPERIMENT
from zerosearch.experiment.config import ArmKind, load_experiment
from zerosearch.experiment.report import curves, markdown_table, summarize
from zerosearch.experiment.runner import _share_pool
from zerosearch.experiment.stats import mean_spread, signal_in_se, thirds
from zerosearch.trainer.config import parse_train_config
from zerosearch.trainer.run_dir import RunDir

ROOT = Path(__file__).resolve().parents[2]


def _experiment(tmp_path: Path, **fields: object) -> Path:
    data = yaml.safe_load(DEFAULT_EXPERIMENT.read_text())
    for arm in data["arms"]:
        arm["config"] = str(DEFAULT_EXPERIMENT.parent / arm["config"])
    data.update(fields)
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _split(tmp_path: Path) -> SplitFiles:
    return SplitFiles([tmp_path / "heldout" / "nq.jsonl"], [tmp_path / "train" / "nq.jsonl"])


def test_the_shipped_experiment_names_four_arms_whose_configs_parse(tmp_path: Path) -> None:
    experiment = load_experiment(DEFAULT_EXPERIMENT)
    assert [a.kind for a in experiment.arms].count(ArmKind.GRPO) == 3 and experiment.seeds == [1, 2, 3]
    check_shared_cold_start(experiment, _split(tmp_path), tmp_path)  # every arm: same model and cold start
    searches = {}
    for arm in experiment.arms:
        payload = train_payload(experiment, arm, 2, tmp_path, _split(tmp_path), simulator_url="http://h:1")
        config = parse_train_config(payload)
        assert config.seed == 2 and config.eval.search == "bm25" and config.eval.limit is None
        assert config.eval.datasets == [str(tmp_path / "heldout" / "nq.jsonl")]
        searches[arm.name] = (config.search, config.curriculum.kind.value, config.curriculum.p_end)
    assert searches["grpo-simulator-curriculum"] == ("simulator", "exponential", 0.5)
    assert searches["grpo-bm25"] == ("bm25", "constant", 0.0)
    assert searches["grpo-simulator-noise0"] == ("simulator", "constant", 0.0)


def test_later_arms_start_from_the_shared_cold_start(tmp_path: Path) -> None:
    experiment = load_experiment(DEFAULT_EXPERIMENT, steps=2)
    arm = experiment.grpo_arms()[1]
    payload = train_payload(
        experiment,
        arm,
        1,
        tmp_path,
        _split(tmp_path),
        simulator_url="http://h:1",
        cold_start_model=tmp_path / "cs",
    )
    assert payload["model"] == str(tmp_path / "cs") and payload["cold_start"]["enabled"] is False
    assert payload["steps"] == 2 and payload["checkpoint_interval"] == 3


def test_later_arms_of_a_seed_get_the_first_arms_pool(tmp_path: Path) -> None:
    experiment = load_experiment(DEFAULT_EXPERIMENT)
    first, bm25, noise0 = (
        train_payload(experiment, arm, 1, tmp_path, _split(tmp_path), simulator_url="http://h:1")
        for arm in experiment.grpo_arms()
    )
    chosen = {"pool": ["q1", "q2"], "probed": []}
    RunDir(Path(first["output_dir"])).pool_file.parent.mkdir(parents=True)
    RunDir(Path(first["output_dir"])).pool_file.write_text(json.dumps(chosen))
    _share_pool(first, bm25)  # the same pool block, probed with bm25: the same pool
    assert json.loads(RunDir(Path(bm25["output_dir"])).pool_file.read_text()) == chosen
    noise0["pool"] = {**noise0["pool"], "size": 1}  # another pool asked for: the arm probes its own
    _share_pool(first, noise0)
    assert not RunDir(Path(noise0["output_dir"])).root.exists()


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"seeds": [1, 1]}, "seeds"),
        ({"heldout": {"triviaqa": 5}}, "heldout"),
        ({"heldout": {"nq": 0}}, "heldout"),
        ({"steps": 0}, "steps"),
        ({"train_questions": 1}, "train_questions"),
        ({"color": "red"}, "color: unknown field"),
        (
            {"arms": [{"name": "a", "config": "cold-start.yaml", "kind": "cold_start"}]},
            "at least one grpo arm",
        ),
        ({"arms": [{"name": "a", "config": "x.yaml", "kind": "ppo"}]}, "arms.0.kind"),
        ({"arms": [{"name": "a", "config": "missing.yaml"}]}, "arms.0.config: file not found"),
        ({"arms": [{"name": "Bad Name", "config": "x.yaml"}]}, "arms.0.name"),
    ],
)
def test_a_bad_experiment_file_names_the_field(tmp_path: Path, fields: dict, named: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=named):
        load_experiment(_experiment(tmp_path, **fields))


def test_arms_with_another_cold_start_are_refused(tmp_path: Path) -> None:
    other = yaml.safe_load((DEFAULT_EXPERIMENT.parent / "grpo-bm25.yaml").read_text())
    other["cold_start"]["examples"] = 8
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    data = yaml.safe_load(DEFAULT_EXPERIMENT.read_text())
    data["arms"][2]["config"] = str(tmp_path / "other.yaml")
    data["arms"] = [
        {**a, "config": str(DEFAULT_EXPERIMENT.parent / a["config"])} if i != 2 else a
        for i, a in enumerate(data["arms"])
    ]
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"arm grpo-bm25 .*share one cold start"):
        check_shared_cold_start(load_experiment(path), _split(tmp_path), tmp_path)


def test_bm25_training_refuses_curriculum_noise() -> None:
    config = yaml.safe_load((DEFAULT_EXPERIMENT.parent / "grpo-bm25.yaml").read_text())
    config["curriculum"] = {"kind": "exponential", "p_start": 0.0, "p_end": 0.5}
    with pytest.raises(ConfigError, match="search: bm25 has no noisy mode"):
        parse_train_config(config)


def test_training_backend_is_bm25_over_the_corpus_when_asked(corpus_path: Path) -> None:
    from zerosearch.common.search.bm25 import BM25Backend
    from zerosearch.trainer.grpo import training_backend

    config = yaml.safe_load((DEFAULT_EXPERIMENT.parent / "grpo-bm25.yaml").read_text())
    config["data_dir"] = str(corpus_path.parents[1])
    assert isinstance(training_backend(parse_train_config(config)), BM25Backend)


def test_mean_spread_and_thirds() -> None:
    assert mean_spread([1.0]) == (1.0, 0.0)
    mean, spread = mean_spread([1.0, 2.0, 3.0])
    assert mean == 2.0 and spread == pytest.approx(1.0)
    assert thirds([1, 2, 3, 4, 5, 6, 7]) == ([1, 2], [6, 7])
    assert thirds([1, 2]) == ([], [])


def test_signal_in_se() -> None:
    # first third 0.0, 0.2 (mean 0.1, var 0.02); last third 0.6, 0.8 (mean 0.7, var 0.02): 0.6 / sqrt(0.02)
    assert signal_in_se([0.0, 0.2, 0.5, 0.5, 0.6, 0.8]) == pytest.approx(0.6 / math.sqrt(0.02))
    assert signal_in_se([0.8, 0.6, 0.5, 0.5, 0.2, 0.0]) == pytest.approx(-0.6 / math.sqrt(0.02))
    assert signal_in_se([0.1] * 5) is None  # a third of 1 step: no variance
    assert signal_in_se([0.0, 0.0, 1.0, 1.0, 1.0, 1.0]) == math.inf
    assert signal_in_se([0.5] * 6) == 0.0


def _run(f1: float, rewards: list[float]) -> dict:  # type: ignore[type-arg]
    row = {
        "n": 10,
        "em": f1 / 2,
        "cover_em": f1 / 2,
        "f1": f1,
        "format_valid": 90.0,
        "searches_per_question": 1.0,
    }
    return {
        "eval": {"datasets": {"nq": row, "hotpotqa": {**row, "n": 5}}},
        "metrics": [{"step": i + 1, "reward": r, "noise_p": 0.1 * i} for i, r in enumerate(rewards)],
    }


def test_summary_table_and_curves() -> None:
    results = {
        "grpo": {
            "1": _run(2.0, [0.0, 0.2, 0.5, 0.5, 0.6, 0.8]),
            "2": _run(4.0, [0.1, 0.1, 0.2, 0.2, 0.3, 0.5]),
        },
        "cold-start": {"1": {**_run(1.0, []), "metrics": []}, "2": {**_run(1.0, []), "metrics": []}},
    }
    summary = summarize(results)
    cell = summary["table"]["grpo"]["nq"]
    assert cell["f1"] == (3.0, pytest.approx(math.sqrt(2.0))) and cell["n"] == 10 and cell["seeds"] == 2
    assert "cold-start" not in summary["learning_signal"]  # no training steps
    assert summary["learning_signal"]["grpo"]["1"] == pytest.approx(0.6 / math.sqrt(0.02))
    table = markdown_table(summary)
    assert (
        "| grpo | nq | 10 | 2 | 1.50 ± 0.71 | 1.50 ± 0.71 | 3.00 ± 1.41 | 90.00 ± 0.00 | 1.00 ± 0.00 |"
        in table
    )
    assert "- grpo: seed 1: +4.24 SE" in table and "cold-start:" not in table.split("standard errors")[1]
    assert curves(results, "reward")["grpo"][0] == pytest.approx(0.05)
    assert "cold-start" not in curves(results, "reward")
    assert "no noisy documents" not in table  # runs without the useful-only reward do not show it


def test_summary_reports_the_useful_only_reward_signal() -> None:
    # The reward falls with the curriculum's noise while the useful-document rollouts' reward rises.
    run = _run(2.0, [0.6, 0.6, 0.5, 0.5, 0.4, 0.4])
    useful = [0.6, 0.7, None, 0.8, 0.9, 1.0]  # step 3: every rollout got noisy documents
    for line, value in zip(run["metrics"], useful, strict=True):
        if value is not None:
            line["reward_useful"] = value
    summary = summarize({"grpo": {"1": run}})
    assert summary["learning_signal"]["grpo"]["1"] == -math.inf
    # steps with a value: 0.6, 0.7, 0.8, 0.9, 1.0 → thirds of 1 step: no variance → None; 6 values needed
    assert summary["useful_signal"]["grpo"]["1"] is None
    run["metrics"][2]["reward_useful"] = 0.7  # step 3 now has useful rollouts too: 6 values
    summary = summarize({"grpo": {"1": run}})
    assert summary["useful_signal"]["grpo"]["1"] == pytest.approx(
        signal_in_se([0.6, 0.7, 0.7, 0.8, 0.9, 1.0])
    )
    assert summary["useful_signal"]["grpo"]["1"] > 2.0
    table = markdown_table(summary)
    assert "no noisy documents" in table and "seed 1: +4.24 SE" in table.split("no noisy documents")[1]


def test_the_cli_has_the_experiment_verb() -> None:
    from zerosearch.cli import app

    result = CliRunner().invoke(app, ["experiment", "run", "--help"])
    assert result.exit_code == 0
    for flag in ("--seeds", "--steps", "--nq", "--hotpotqa", "--config", "--out", "--simulator-url"):
        assert flag in result.output
