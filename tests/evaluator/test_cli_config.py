"""Eval config validation and the CLI's bad-input paths (none of these loads a model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from zerosearch.cli import app, main
from zerosearch.common.errors import ConfigError
from zerosearch.evaluator.cli import config_from_options
from zerosearch.evaluator.config import EvalConfig, build_eval_config


def test_config_defaults_follow_the_evaluation_protocol() -> None:
    config = build_eval_config({"datasets": "nq, hotpotqa,nq"})
    assert config.datasets == ["nq", "hotpotqa"] and config.model == "smollm2-135m"
    rollout = config.rollout_config()
    assert rollout.temperature == 0.0 and rollout.noise == 0.0
    assert rollout.send_answer is False and rollout.send_question is False  # never leak the gold answer
    assert config.resolved_search() == "bm25"
    assert EvalConfig(method="direct").resolved_search() is None


@pytest.mark.parametrize(
    ("data", "field", "hint"),
    [
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"method": "guess"}, "method", "'agent', 'rag' or 'direct'"),
        ({"datasets": " , "}, "datasets", "at least one dataset"),
        ({"top_k": 50}, "top_k", "less than or equal to 20"),
        ({"bogus": 1}, "bogus", "known options: model, datasets"),
    ],
)
def test_bad_config_names_the_field(data: dict, field: str, hint: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_eval_config(data)
    assert info.value.param == field and hint in info.value.message


def test_yaml_config_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "eval.yaml"
    path.write_text("datasets: [nq, bamboogle]\nlimit: 7\nmethod: rag\n")
    config = config_from_options({"config_file": path, "limit": 3, "method": None})
    assert (config.datasets, config.limit, config.method) == (["nq", "bamboogle"], 3, "rag")
    path.write_text("- not a mapping\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        config_from_options({"config_file": path})


@pytest.mark.parametrize("limit", ["0", "-3"])
def test_limit_below_one_is_a_usage_error(limit: str) -> None:
    result = CliRunner().invoke(app, ["eval", "run", "--limit", limit])
    assert result.exit_code == 2 and "--limit" in result.output
    assert (
        main(["eval", "run", "--limit", limit]) == 2
    )  # the installed entry point: usage error, no traceback


def test_unknown_dataset_is_one_red_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "run", "--datasets", "nq,nqq"]) == 1
    err = capsys.readouterr().err
    assert "DatasetError" in err and "unknown dataset 'nqq'" in err and "Traceback" not in err


def test_missing_model_path_is_one_red_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["eval", "run", "--model", str(tmp_path / "ckpt"), "--limit", "1", "--out", str(tmp_path)]) == 1
    )
    err = capsys.readouterr().err
    assert "ModelNotFoundError" in err and "model path not found" in err


def test_submit_without_redis_url_says_what_to_set(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("ZEROSEARCH_REDIS_URL", raising=False)
    assert main(["eval", "submit", "--limit", "1"]) == 1
    assert "REDIS_URL" in capsys.readouterr().err


def test_a_rollout_block_sets_the_shared_limits_including_the_budget() -> None:
    from zerosearch.common.errors import ConfigError
    from zerosearch.evaluator.config import build_eval_config

    config = build_eval_config({"rollout": {"max_turns": 2, "max_completion_tokens": 384}, "top_k": 3})
    rollout = config.rollout_config()
    assert (rollout.max_turns, rollout.max_completion_tokens, rollout.top_k) == (2, 384, 3)
    with pytest.raises(ConfigError, match="top_k is given twice"):
        build_eval_config({"rollout": {"top_k": 2}, "top_k": 3})
