"""The tiny real pipeline run (one job on the sft queue): each stage's output, and the trained folder."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from tests.tuning.conftest import read_lines
from zerosearch.simulator.prompts import Mode, PromptStyle, build_messages
from zerosearch.tuning.config import Label

pytestmark = [pytest.mark.slow, pytest.mark.model]


def test_job_ran_every_stage_with_progress_in_meta(sft_run) -> None:
    assert list(sft_run.reports) == ["collect", "label", "build", "train"]
    assert sft_run.meta["state"] == "finished" and sft_run.meta["stage"] == "done"
    assert sft_run.meta["stages"] == 4 and sft_run.meta["stage_number"] == 4
    assert sft_run.meta["step"] == 3 and sft_run.meta["done"] is True  # the trainer's own progress


def test_collect_stores_every_search_with_real_documents(sft_run) -> None:
    rows = read_lines(sft_run.config.collect.output)
    assert [r["id"] for r in rows] == [f"nq_open_dev_{i}" for i in range(6)]
    assert sft_run.reports["collect"]["collected"] == 6 and sft_run.reports["collect"]["searches"] == 6
    for row in rows:
        assert row["golden_answers"] and row["searches"][0]["query"] == row["question"]
        docs = row["searches"][0]["documents"]
        assert len(docs) == 4 and all(d["text"] for d in docs)
        assert set(row) >= {"answer", "em", "cover_em", "f1"}


def test_label_reports_balance_of_both_labels(sft_run) -> None:
    report = sft_run.reports["label"]
    assert report["documents"] == 24
    assert report["useful"] + report["noisy"] == 24
    assert 0 < report["useful"] < report["noisy"]  # BM25 puts a gold answer in about 1 of 4 documents


def test_build_uses_the_simulator_tuned_prompt_and_balances(sft_run) -> None:
    data = sft_run.config.build.output_dir
    train, valid = read_lines(data / "train.jsonl"), read_lines(data / "valid.jsonl")
    modes = [e["mode"] for e in train + valid]
    assert modes.count(Label.USEFUL) == modes.count(Label.NOISY) > 0
    assert valid and not {e["id"] for e in train} & {e["id"] for e in valid}  # split by question
    labeled = {(r["id"], r["query"]): r for r in read_lines(sft_run.config.label.output)}
    for example in train:
        content = example["completion"][0]["content"]
        record = labeled[(example["id"], example["query"])]
        answer = example["prompt"][0]["content"].split('whose answer is "')[1].split('"')[0]
        assert answer in record["golden_answers"]
        expected = build_messages(
            example["query"],
            Mode(example["mode"]),
            question=record["question"],
            answer=answer,
            k=content.count("\nDoc ") + 1,
            style=PromptStyle.TUNED,
        )
        assert example["prompt"] == expected  # the simulator's own tuned prompt, not a copy
        assert content.startswith("Doc 1: ")
    assert json.loads((data / "build.json").read_text())["prompt_style"] == "tuned"


def test_train_logs_loss_changes_weights_and_marks_prompt_style(sft_run, bundled_model_path: str) -> None:
    report = sft_run.reports["train"]
    assert report["steps"] == 3
    assert report["first_loss"] > 0 and report["last_loss"] > 0 and report["eval_loss"] > 0
    out = sft_run.config.train.output_dir
    card = json.loads((out / "zerosearch.json").read_text())
    assert card["prompt_style"] == "tuned" and card["method"] == "full"
    before = load_file(f"{bundled_model_path}/model.safetensors")
    after = load_file(str(out / "model.safetensors"))
    changed = [name for name in after if name in before and not before[name].equal(after[name])]
    assert changed, "no weight changed after 3 optimizer steps"
