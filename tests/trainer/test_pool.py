"""GRPO's learnable pool: the probe's pass rates pick the questions, the choice is written and read back."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from tests.utils.fakes import EchoBackend, QuestionPolicy
from zerosearch.common.errors import ConfigError, DatasetError
from zerosearch.common.trajectory import QAItem, RolloutConfig
from zerosearch.trainer.config import parse_train_config
from zerosearch.trainer.pool import fill_pool, learnable_pool, pick_learnable
from zerosearch.trainer.run_dir import RunDir

ITEMS = [
    QAItem(id=name, question=f"where is {name}?", golden_answers=[f"{name} town"])
    for name in ("always", "half", "never", "quarter", "also-half")
]
SETTINGS = RolloutConfig(max_turns=1, max_new_tokens=64, max_completion_tokens=512, top_k=1)


@pytest.fixture(scope="module")
def tokenizer(bundled_model_path: str):  # type: ignore[no-untyped-def]
    from zerosearch.common.models import load_tokenizer

    return load_tokenizer(bundled_model_path)


def _answers():  # type: ignore[no-untyped-def]
    """Right every time for 'always', never for 'never', on alternate samples for the halves, once in four
    for 'quarter' (counters per question, as sampled rollouts of one question differ)."""
    counters = {item.question: itertools.count() for item in ITEMS}
    every = {"always": 1, "half": 2, "never": 0, "quarter": 4, "also-half": 2}

    def answer_for(question: str) -> str:
        name = question.removeprefix("where is ").removesuffix("?")
        n = next(counters[question])
        return f"{name} town" if every[name] and n % every[name] == 0 else "nowhere"

    return answer_for


def _config(tmp_path: Path, **pool: object):  # type: ignore[no-untyped-def]
    return parse_train_config({
        "model": "smollm2-135m", "simulator_url": "http://127.0.0.1:1", "datasets": ["nq"],
        "prompts_per_step": 1, "num_generations": 2, "output_dir": str(tmp_path / "run"),
        "pool": {"enabled": True, "samples": 4, "search": "training", **pool},
    })  # fmt: skip


def test_only_questions_answered_sometimes_are_kept() -> None:
    assert pick_learnable(ITEMS, [1.0, 0.5, 0.0, 0.25, 0.5], size=2) == [ITEMS[1], ITEMS[3]]
    assert pick_learnable(ITEMS, [1.0, 0.5, 0.0, 0.25, 0.5], size=9) == [ITEMS[1], ITEMS[3], ITEMS[4]]

    # A step needs prompts_per_step questions: the best of the rest (below 1, highest rate first) fill in.
    rates = [1.0, 0.5, 0.0, 0.0, 0.25]
    assert fill_pool(pick_learnable(ITEMS, rates, 1), ITEMS, rates, 3) == [ITEMS[1], ITEMS[4], ITEMS[2]]
    assert fill_pool([ITEMS[1]], ITEMS, rates, 1) == [ITEMS[1]]


def test_the_probe_chooses_and_a_resumed_run_reads_the_choice_back(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, run_dir = _config(tmp_path, size=2), RunDir(tmp_path / "run")
    run_dir.root.mkdir(parents=True)
    backend = EchoBackend()
    policies = []

    def policy() -> QuestionPolicy:
        policies.append(QuestionPolicy(tokenizer, _answers()))
        return policies[-1]

    chosen = learnable_pool(config, run_dir, policy, ITEMS, backend, SETTINGS)
    assert [i.id for i in chosen] == ["half", "quarter"]  # first two with 0 < pass rate < 1, file order
    report = json.loads(run_dir.pool_file.read_text())
    assert [p["pass_rate"] for p in report["probed"]] == [1.0, 0.5, 0.0, 0.25, 0.5]
    assert len(backend.requests) == 5 * 4  # every sample searched the training engine (search: training)
    again = learnable_pool(config, run_dir, policy, ITEMS, backend, SETTINGS)
    assert again == chosen and len(policies) == 1  # read back: no second probe


def test_a_pool_too_small_for_a_step_is_one_clear_error(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = _config(tmp_path, candidates=1)  # only 'always': pass rate 1, no gradient possible
    run_dir = RunDir(tmp_path / "run")
    run_dir.root.mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"pool: 0 of 1 probed questions have a pass rate below 1"):
        learnable_pool(
            config, run_dir, lambda: QuestionPolicy(tokenizer, _answers()), ITEMS, EchoBackend(), SETTINGS
        )


def test_bad_pool_settings_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pool\.samples"):
        _config(tmp_path, samples=1)  # one sample cannot show "sometimes"


def test_a_pass_rate_band_leaves_room_to_learn(tmp_path: Path) -> None:
    rates = [1.0, 0.5, 0.0, 0.25, 0.9]
    # (0.2, 0.6): the question answered 9 times in 10 has no room left, the one never answered no signal
    assert pick_learnable(ITEMS, rates, size=9, low=0.2, high=0.6) == [ITEMS[1], ITEMS[3]]
    assert pick_learnable(ITEMS, rates, size=9, low=0.3, high=0.6) == [ITEMS[1]]
    # filling in stays below the band's top: 0.9 is never taken, the best below it is
    assert fill_pool([ITEMS[1]], ITEMS, rates, 3, high=0.6) == [ITEMS[1], ITEMS[3], ITEMS[2]]
    config = _config(tmp_path, min_pass_rate=0.2, max_pass_rate=0.6)
    assert (config.pool.min_pass_rate, config.pool.max_pass_rate) == (0.2, 0.6)
    with pytest.raises(ConfigError, match="min_pass_rate") as err:
        _config(tmp_path, min_pass_rate=0.6, max_pass_rate=0.5)
    assert "below pool.max_pass_rate" in str(err.value)
    with pytest.raises(ConfigError, match="max_pass_rate"):
        _config(tmp_path, max_pass_rate=1.5)


def test_the_probe_keeps_only_the_band(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, run_dir = (
        _config(tmp_path, size=2, min_pass_rate=0.3, max_pass_rate=0.6),
        RunDir(tmp_path / "run"),
    )
    run_dir.root.mkdir(parents=True)
    chosen = learnable_pool(
        config, run_dir, lambda: QuestionPolicy(tokenizer, _answers()), ITEMS, EchoBackend(), SETTINGS
    )
    assert [i.id for i in chosen] == ["half", "also-half"]  # 0.25 is under the band, 1.0 over it
    assert json.loads(run_dir.pool_file.read_text())["settings"]["max_pass_rate"] == 0.6
