"""Train and evaluation data never mix: names resolve to train splits for training, and a run whose training
questions appear in one of its evaluation sets is refused before the simulator or a model is touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from zerosearch.common.datasets import load_benchmark
from zerosearch.common.errors import DatasetError
from zerosearch.trainer.config import load_train_config, parse_train_config
from zerosearch.trainer.data import check_disjoint, load_training_items, question_key

REPO = Path(__file__).resolve().parents[2]
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens on the discard port


def _config(tmp_path: Path, data_dir: Path, **change: object):  # type: ignore[no-untyped-def]
    payload = {
        "model": "smollm2-135m",
        "simulator_url": UNREACHABLE,
        "datasets": ["nq"],
        "data_dir": str(data_dir),
        "prompts_per_step": 1,
        "num_generations": 2,
        "output_dir": str(tmp_path / "run"),
        "eval": {"datasets": ["nq"], "limit": 5},
        **change,
    }
    return parse_train_config(payload)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_name_trains_on_its_train_split_never_on_its_eval_file(tmp_path: Path, data_dir: Path) -> None:
    items = load_training_items(_config(tmp_path, data_dir))
    evaluated = {question_key(i.question) for i in load_benchmark("nq", data_dir=data_dir)}
    trained = {question_key(i.question) for i in items}
    assert len(items) == 400 and not trained & evaluated  # qa/train/nq.jsonl, not qa/nq.jsonl


def test_training_on_evaluation_questions_is_refused_before_the_simulator(
    tmp_path: Path, data_dir: Path
) -> None:
    from zerosearch.trainer.grpo import train

    leaked = [json.loads(line) for line in (data_dir / "qa" / "nq.jsonl").read_text().splitlines()[:7]]
    for row in leaked:  # the same questions, spelled differently: normalisation still matches them
        row["question"] = row["question"].upper() + "?!"
    clean = [json.loads(line) for line in (data_dir / "qa" / "train" / "nq.jsonl").read_text().splitlines()]
    mixed = _write(tmp_path / "mixed.jsonl", clean[:20] + leaked)
    config = _config(tmp_path, data_dir, datasets=[str(mixed)])
    with pytest.raises(DatasetError) as info:
        train(config)  # an unreachable simulator would raise SearchBackendError: the guard comes first
    message = info.value.message
    assert "'nq'" in message and "7 of 27 training questions" in message and "\n" not in message
    assert not (tmp_path / "run").exists()


def test_a_training_name_is_checked_against_its_own_eval_split_without_auto_eval(
    tmp_path: Path, data_dir: Path
) -> None:
    polluted = tmp_path / "data"
    (polluted / "qa" / "train").mkdir(parents=True)
    eval_rows = (data_dir / "qa" / "nq.jsonl").read_text()
    (polluted / "qa" / "nq.jsonl").write_text(eval_rows)
    (polluted / "qa" / "train" / "nq.jsonl").write_text(eval_rows)  # a "train" file that is the test set
    config = _config(tmp_path, polluted, eval={"enabled": False})
    with pytest.raises(DatasetError, match=r"evaluation set 'nq': 100 of 100 training questions"):
        check_disjoint(load_training_items(config), config)


def test_eval_overlap_drop_trains_without_the_shared_questions(tmp_path: Path, data_dir: Path) -> None:
    rows = (data_dir / "qa" / "train" / "nq.jsonl").read_text().splitlines()[:30]
    rows += (data_dir / "qa" / "nq.jsonl").read_text().splitlines()[:5]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join(rows) + "\n")
    config = _config(tmp_path, data_dir, datasets=[str(mixed)], eval_overlap="drop")
    kept = check_disjoint(load_training_items(config), config)
    evaluated = {question_key(i.question) for i in load_benchmark("nq", data_dir=data_dir)}
    assert len(kept) == 30 and not {question_key(i.question) for i in kept} & evaluated


def test_an_evaluation_only_name_has_no_train_split(tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(DatasetError, match=r"'bamboogle' has no train split"):
        load_training_items(_config(tmp_path, data_dir, datasets=["bamboogle"]))
    with pytest.raises(DatasetError, match=r"'zerosearch' is a training set"):
        load_benchmark("zerosearch", data_dir=data_dir)


def test_the_demo_split_passes_the_same_guard(tmp_path: Path, data_dir: Path) -> None:
    from zerosearch.demo import split_heldout

    eval_files, train_files = split_heldout(data_dir, tmp_path, {"nq": 30, "hotpotqa": 15}, 64, seed=0)
    config = _config(
        tmp_path,
        data_dir,
        datasets=[str(p) for p in train_files],
        eval={"datasets": [str(p) for p in eval_files], "limit": None},
    )
    items = load_training_items(config)
    check_disjoint(items, config)  # disjoint by construction: no error
    leaky = config.model_copy(update={"eval": config.eval.model_copy(update={"datasets": ["hotpotqa"]})})
    with pytest.raises(DatasetError, match=r"evaluation set 'hotpotqa': 32 of 64"):
        check_disjoint(items, leaky)  # the demo's train half comes from the local hotpotqa dev file


SHIPPED = sorted(
    p.name for p in (REPO / "configs").glob("*.yaml") if "datasets" in yaml.safe_load(p.read_text())
)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_name_train_splits(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only the repository's eval files at hand, a shipped config must NOT find training questions:
    its names mean train splits (hub or qa/train/), never the local test/dev files."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    raw = yaml.safe_load((REPO / "configs" / name).read_text())
    assert all(Path(spec).suffix == "" for spec in raw["datasets"])  # registered names, no eval files
    config = load_train_config(REPO / "configs" / name, data_dir=str(REPO / "data"))
    with pytest.raises(DatasetError, match=r"\(split train\)"):
        load_training_items(config)


def test_the_cold_start_draws_from_its_own_datasets(tmp_path: Path, data_dir: Path) -> None:
    from zerosearch.demo import split_heldout
    from zerosearch.trainer.data import cold_start_items

    eval_files, [train_file] = split_heldout(data_dir, tmp_path, {"nq": 20}, 30, seed=0)
    rows = [json.loads(line) for line in train_file.read_text().splitlines()]
    pool, others = _write(tmp_path / "pool.jsonl", rows[:2]), _write(tmp_path / "cold.jsonl", rows[2:])
    eval_block = {"datasets": [str(p) for p in eval_files], "limit": None}
    config = _config(
        tmp_path, data_dir, datasets=[str(pool)], eval=eval_block,
        cold_start={"enabled": True, "datasets": [str(others)]},
    )  # fmt: skip
    items = check_disjoint(load_training_items(config), config)
    demonstrations = cold_start_items(config, items)
    assert [i.question for i in items] == [r["question"] for r in rows[:2]]
    assert {i.question for i in demonstrations} == {r["question"] for r in rows[2:]}
    assert cold_start_items(config.model_copy(update={"cold_start": config.cold_start.model_copy(
        update={"datasets": None})}), items) == items  # fmt: skip
    heldout_row = json.loads(eval_files[0].read_text().splitlines()[0])
    leaky = _write(tmp_path / "leaky.jsonl", [*rows[2:], heldout_row])
    leaky_config = config.model_copy(
        update={"cold_start": config.cold_start.model_copy(update={"datasets": [str(leaky)]})}
    )
    with pytest.raises(DatasetError, match="overlaps evaluation set"):
        cold_start_items(leaky_config, items)  # the guard covers the cold start's questions too
