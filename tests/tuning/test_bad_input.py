"""Bad input through the CLI: one red line naming the problem, exit code 1, before any model loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.tuning.conftest import write_questions
from zerosearch.cli import main as cli
from zerosearch.common.errors import ConfigError, DatasetError
from zerosearch.tuning.config import SFTTrainConfig, parse_sft_config


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Exit code and stderr without its log lines (timestamped), as one line."""
    code = cli(["sft", *args])
    lines = capsys.readouterr().err.splitlines()
    kept = [line for line in lines if not re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line)]
    return code, " ".join(" ".join(kept).split())


def test_corpus_that_is_not_jsonl(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("title,text\nMoby-Dick,A novel\n")
    questions = write_questions(data_dir, tmp_path / "q.jsonl", 2)
    code, err = _run(capsys, "collect", "--questions", str(questions), "--corpus", str(corpus),
                     "--output", str(tmp_path / "c.jsonl"), "--policy", "/nonexistent/model")  # fmt: skip
    assert code == 1
    assert err.startswith("DatasetError") and re.search(r"corpus\.jsonl(:|, line )1: not valid JSON", err)


def test_out_of_range_flags_name_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "build", "--valid-fraction", "1.5")
    assert code == 1 and "ConfigError" in err and "valid_fraction" in err and "less than 1" in err
    code, err = _run(capsys, "train", "--method", "qlora")
    assert code == 1 and "method" in err and "'full' or 'lora'" in err
    code, err = _run(capsys, "fidelity", "--simulator", "localhost:8000")
    assert code == 1 and "http(s)://" in err


def test_empty_collection_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.jsonl").write_text("")
    code, err = _run(
        capsys, "label", "--input", str(tmp_path / "c.jsonl"), "--output", str(tmp_path / "l.jsonl")
    )
    assert code == 1 and "DatasetError" in err and "is empty" in err


def test_training_without_examples_fails_before_loading_a_model(tmp_path: Path) -> None:
    from zerosearch.tuning.train import main

    with pytest.raises(DatasetError, match="run `zerosearch sft build` first"):
        main(SFTTrainConfig(data_dir=tmp_path, output_dir=tmp_path / "m", model="/nonexistent"))
    (tmp_path / "train.jsonl").write_text("")
    with pytest.raises(DatasetError, match="holds no examples"):
        main(SFTTrainConfig(data_dir=tmp_path, output_dir=tmp_path / "m", model="/nonexistent"))


def test_pipeline_config_chains_stage_paths_and_rejects_unknown_fields(tmp_path: Path) -> None:
    config = parse_sft_config({"work_dir": str(tmp_path), "train": {"max_steps": 5}})
    assert config.label.input == config.collect.output == tmp_path / "collected.jsonl"
    assert config.train.data_dir == config.build.output_dir == tmp_path / "data"
    assert config.train.max_steps == 5
    with pytest.raises(ConfigError, match=r"train.max_stepz: unknown field"):
        parse_sft_config({"train": {"max_stepz": 5}})
