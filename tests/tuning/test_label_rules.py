"""The label rules on hand-made collections (no model), and the judge over a real local HTTP server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.common.servers import Call, serve
from zerosearch.common.documents import Document
from zerosearch.common.errors import DatasetError, EngineError
from zerosearch.common.metrics import contains_answer
from zerosearch.tuning.config import Label, LabelConfig
from zerosearch.tuning.label import main
from zerosearch.tuning.records import (
    CollectedRecord,
    CollectedSearch,
    LabeledSearch,
    append_jsonl,
    read_jsonl,
)


def _record(
    rid: str, em: float, texts: list[str], golds: tuple[str, ...] = ("Herman Melville",)
) -> CollectedRecord:
    docs = [Document(rank=i, title="t", text=t) for i, t in enumerate(texts, 1)]
    return CollectedRecord(id=rid, question="who wrote moby dick", golden_answers=list(golds), em=em,
                           searches=[CollectedSearch(query="moby dick author", documents=docs)])  # fmt: skip


def _collection(tmp_path: Path) -> Path:
    path = tmp_path / "collected.jsonl"
    append_jsonl(path, [
        _record("q1", 1.0, ["Moby-Dick is a novel by Herman Melville.", "A whale is a large marine mammal."]),
        _record("q2", 0.0, ["Melville wrote poems too.", "Written by herman  melville, in 1851."]),
    ])  # fmt: skip
    return path


def _labels(path: Path) -> list[list[Label]]:
    return [[d.label for d in s.documents] for s in read_jsonl(path, LabeledSearch)]


def test_contains_answer_is_normalized_and_whole_word() -> None:
    assert contains_answer("Written by HERMAN Melville.", ["herman melville"])
    assert contains_answer("In 1945, the war ended", ["1945"])
    assert not contains_answer("In 1945, the war ended", ["194"])
    assert not contains_answer("anything", ["the"])  # a gold that normalizes to nothing never matches


def test_answer_rule_labels_each_document(tmp_path: Path) -> None:
    config = LabelConfig(input=_collection(tmp_path), output=tmp_path / "labeled.jsonl", rule="answer")
    report = main(config)
    assert _labels(config.output) == [[Label.USEFUL, Label.NOISY], [Label.NOISY, Label.USEFUL]]
    assert (report.useful, report.noisy, report.useful_share) == (2, 2, 0.5)


def test_trajectory_rule_follows_the_answer_of_the_trajectory(tmp_path: Path) -> None:
    config = LabelConfig(input=_collection(tmp_path), output=tmp_path / "labeled.jsonl", rule="trajectory")
    main(config)
    assert _labels(config.output) == [[Label.USEFUL, Label.USEFUL], [Label.NOISY, Label.NOISY]]


def _judge_route(call: Call) -> tuple[int, dict]:
    """An OpenAI chat/completions stand-in judge: yes when the document names the gold answer."""
    user = call.body["messages"][-1]["content"]
    answer = user.split("Correct answer: ")[1].split("\n")[0]
    document = user.split("Document: ")[1]
    reply = "Yes." if answer.lower() in document.lower() else "No"
    return 200, {"object": "chat.completion", "model": call.body["model"],
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                              "finish_reason": "stop"}]}  # fmt: skip


def test_judge_rule_over_an_openai_compatible_server(tmp_path: Path) -> None:
    with serve({("POST", "/v1/chat/completions"): _judge_route}) as server:
        config = LabelConfig(input=_collection(tmp_path), output=tmp_path / "labeled.jsonl", rule="judge",
                             judge_url=f"{server.url}/v1", judge_model="judge-x", judge_api_key="k")  # fmt: skip
        report = main(config)
    assert _labels(config.output) == [[Label.USEFUL, Label.NOISY], [Label.NOISY, Label.NOISY]]
    assert report.useful == 1
    sent = [c for c in server.calls if c.body["max_tokens"] == 4]
    assert len(sent) == 4 and all(c.headers["authorization"] == "Bearer k" for c in sent)
    assert all(c.body["model"] == "judge-x" and c.body["temperature"] == 0.0 for c in sent)


def test_judge_endpoint_down_fails_before_labelling(tmp_path: Path) -> None:
    with serve({}) as server:
        url = server.url  # a port that was just free and is now closed
    config = LabelConfig(input=_collection(tmp_path), output=tmp_path / "labeled.jsonl", rule="judge",
                         judge_url=f"{url}/v1", judge_model="judge-x")  # fmt: skip
    with pytest.raises(EngineError, match="unreachable"):
        main(config)
    assert not config.output.exists()


def test_judge_endpoint_answering_errors_fails_before_labelling(tmp_path: Path) -> None:
    with serve({("POST", "/v1/chat/completions"): lambda call: (500, {"error": "boom"})}) as server:
        config = LabelConfig(input=_collection(tmp_path), output=tmp_path / "out.jsonl", rule="judge",
                             judge_url=f"{server.url}/v1")  # fmt: skip
        with pytest.raises(EngineError, match="HTTP 500"):
            main(config)
        assert len(server.calls) == 1  # only the probe: no document was sent


@pytest.mark.slow
@pytest.mark.model
def test_judge_rule_with_the_local_bundled_model(tmp_path: Path, bundled_model_path: str) -> None:
    config = LabelConfig(input=_collection(tmp_path), output=tmp_path / "labeled.jsonl", rule="judge",
                         judge_model=bundled_model_path)  # fmt: skip
    report = main(config)
    assert report.documents == 4 and report.useful + report.noisy == 4  # a verdict for every document
    assert all(len(labels) == 2 for labels in _labels(config.output))


def test_empty_collection_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "collected.jsonl"
    empty.write_text("")
    with pytest.raises(DatasetError, match="is empty"):
        main(LabelConfig(input=empty, output=tmp_path / "l.jsonl"))


def test_collection_without_searches_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "collected.jsonl"
    append_jsonl(path, [CollectedRecord(id="q", question="q?", golden_answers=["a"])])
    with pytest.raises(DatasetError, match="never searched"):
        main(LabelConfig(input=path, output=tmp_path / "l.jsonl"))


def test_missing_collection_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        main(LabelConfig(input=tmp_path / "nope.jsonl", output=tmp_path / "l.jsonl"))
