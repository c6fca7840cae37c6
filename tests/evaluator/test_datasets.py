"""The benchmark registry: local files, arbitrary paths, deterministic samples, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zerosearch.common.datasets import BENCHMARKS, dataset_name, load_benchmark, read_records
from zerosearch.common.errors import DatasetError


def test_registry_holds_the_papers_seven_benchmarks(data_dir: Path) -> None:
    assert set(BENCHMARKS) == {
        "nq",
        "triviaqa",
        "popqa",
        "hotpotqa",
        "2wikimultihopqa",
        "musique",
        "bamboogle",
    }
    for name in BENCHMARKS:
        items = load_benchmark(name, data_dir=data_dir, limit=3)
        assert len(items) == 3 and all(i.dataset == name and i.question and i.golden_answers for i in items)


def test_bamboogle_keeps_every_question(data_dir: Path) -> None:
    assert len(load_benchmark("bamboogle", data_dir=data_dir)) == 125  # the paper's test set, nothing dropped
    assert len(load_benchmark("Bamboogle", data_dir=data_dir, limit=125)) == 125


def test_limit_is_a_deterministic_seeded_sample_in_file_order(data_dir: Path) -> None:
    first = [i.id for i in load_benchmark("nq", data_dir=data_dir, limit=10, seed=1)]
    again = [i.id for i in load_benchmark("nq", data_dir=data_dir, limit=10, seed=1)]
    other = [i.id for i in load_benchmark("nq", data_dir=data_dir, limit=10, seed=2)]
    assert first == again and first != other
    everything = [i.id for i in load_benchmark("nq", data_dir=data_dir)]
    assert first == [i for i in everything if i in set(first)]  # file order kept


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(DatasetError, match=r"unknown dataset 'nqq'.*nq, triviaqa.*bamboogle") as info:
        load_benchmark("nqq")
    assert info.value.param == "datasets"


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"id": "a", "question": "q?", "golden_answers": ["x"]}\n{"id": "b", "question": \n')
    with pytest.raises(DatasetError, match=rf"{path}:2: malformed JSON"):
        read_records(path)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "a", "golden_answers": ["x"]}, "field 'question'"),
        ({"id": "a", "question": "", "golden_answers": ["x"]}, "field 'question'"),
        ({"id": "a", "question": "q?", "golden_answers": []}, "'golden_answers' is empty"),
        ({"id": "a", "question": "q?"}, "field 'golden_answers'"),
        (["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_invalid_record_is_refused_with_its_line(tmp_path: Path, record: object, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"id": "ok", "question": "q?", "golden_answers": ["x"]}) + "\n" + json.dumps(record)
    )
    with pytest.raises(DatasetError, match=rf"bad.jsonl:2: .*{message}"):
        read_records(path)


def test_any_file_is_named_by_its_stem(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": "p1", "question": "Who?", "golden_answers": ["Me"]}, {"id": 2, "question": "When?",
             "golden_answers": "1999"}]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows[:1]), tmp_path / "my_set.parquet")
    (tmp_path / "other.json").write_text(json.dumps(rows))
    parquet = load_benchmark(str(tmp_path / "my_set.parquet"))
    assert [(i.dataset, i.id, i.golden_answers) for i in parquet] == [("my_set", "p1", ["Me"])]
    other = load_benchmark(str(tmp_path / "other.json"))
    assert other[1].id == "2" and other[1].golden_answers == ["1999"]  # a lone string is one gold answer
    assert dataset_name(str(tmp_path / "my_set.parquet")) == "my_set" and dataset_name("NQ") == "nq"


def test_missing_file_and_unsupported_type(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="dataset file not found"):
        load_benchmark(str(tmp_path / "nope.jsonl"))
    (tmp_path / "x.csv").write_text("id,question\n")
    with pytest.raises(DatasetError, match=r"unsupported file type '.csv'"):
        load_benchmark(str(tmp_path / "x.csv"))


def test_local_source_without_the_file_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no local file .*ZEROSEARCH_DATA_DIR"):
        load_benchmark("nq", data_dir=tmp_path, source="local")


def test_hugging_face_offline_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The FlashRAG path is kept for users with internet; here (HF_HUB_OFFLINE=1) it must fail cleanly.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(
        DatasetError, match=r"cannot load 'bamboogle' from Hugging Face RUC-NLPIR/FlashRAG_datasets"
    ):
        load_benchmark("bamboogle", data_dir=tmp_path, source="auto")  # no local file: goes to the hub


def test_a_name_has_a_train_and_an_eval_side(tmp_path: Path) -> None:
    (tmp_path / "qa" / "train").mkdir(parents=True)
    (tmp_path / "qa" / "nq.jsonl").write_text(
        json.dumps({"question": "Test q?", "golden_answers": ["a"]}) + "\n"
    )
    (tmp_path / "qa" / "train" / "nq.jsonl").write_text(
        json.dumps({"question": "Train q?", "golden_answers": ["b"]}) + "\n"
    )
    assert [i.question for i in load_benchmark("nq", data_dir=tmp_path)] == ["Test q?"]
    assert [i.question for i in load_benchmark("nq", data_dir=tmp_path, split="train")] == ["Train q?"]
    with pytest.raises(DatasetError, match=r"'nq' \(train split\): no local file"):
        load_benchmark("nq", data_dir=tmp_path / "empty", split="train", source="local")


def test_verl_parquet_rows_of_the_released_rl_set_are_read(tmp_path: Path) -> None:
    # The paper's RL set (sunhaonlp/ZeroSearch_dataset) stores Search-R1/verl rows: golds under
    # reward_model.ground_truth.target, the question at the end of the templated prompt when no column has it.
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {
            "id": "train_0",
            "prompt": [
                {"role": "user", "content": "Answer the given question. ... Question: who wrote hamlet?\n"}
            ],
            "reward_model": {"style": "rule", "ground_truth": {"target": ["Shakespeare", "W. Shakespeare"]}},
        }
    ]
    (tmp_path / "qa" / "train").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rl.parquet")
    [item] = load_benchmark(str(tmp_path / "rl.parquet"), split="train")
    assert (item.question, item.golden_answers) == ("who wrote hamlet?", ["Shakespeare", "W. Shakespeare"])
