"""The answer reward: F1 (default) and strict EM, 0 with no answer, each sample scored with its own golds."""

from __future__ import annotations

import pytest

from zerosearch.common.errors import ConfigError
from zerosearch.trainer.reward import answer_reward, make_reward_function


def test_f1_and_em() -> None:
    assert answer_reward("Herman Melville", ["Herman Melville"]) == 1.0
    assert answer_reward("Melville", ["Herman Melville"]) == pytest.approx(2 / 3)
    assert answer_reward("Melville", ["Herman Melville"], "em") == 0.0
    assert answer_reward("the Herman Melville.", ["herman melville"], "em") == 1.0
    # Max over golds.
    assert answer_reward("Paris", ["Lyon", "Paris"]) == 1.0


def test_no_answer_scores_zero_and_never_raises() -> None:
    assert answer_reward(None, ["Paris"]) == 0.0
    assert answer_reward("Paris", []) == 0.0
    reward = make_reward_function("f1")
    assert reward(completions=["x"], answer=[None], golden_answers=[["Paris"]]) == [0.0]


def test_each_sample_uses_its_own_golds() -> None:
    reward = make_reward_function("f1")
    scores = reward(
        completions=["a", "b", "c"],
        answer=["Paris", "Paris", "Rome"],
        golden_answers=[["Paris"], ["Rome"], ["Rome"]],
    )
    assert scores == [1.0, 0.0, 1.0]
    assert reward.__name__ == "f1_reward"


def test_misaligned_inputs_fail_loudly() -> None:
    reward = make_reward_function("em")
    with pytest.raises(ValueError, match="misaligned"):
        reward(completions=["a", "b"], answer=["x"], golden_answers=[["x"], ["y"]])


def test_unknown_reward_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="f1, em"):
        make_reward_function("bleu")
