"""The curriculum against the paper's values (method.md), the other kinds, and resumption."""

from __future__ import annotations

import itertools

import pytest

from zerosearch.common.errors import ConfigError
from zerosearch.trainer.curriculum import Curriculum


@pytest.mark.parametrize(
    ("step", "expected"),
    [(1, 0.001), (50, 0.068), (100, 0.163), (150, 0.298), (202, 0.496), (203, 0.5), (400, 0.5)],
)
def test_exponential_matches_method_md(step: int, expected: float) -> None:
    schedule = Curriculum("exponential", p_start=0.0, p_end=0.5, total_steps=203, base=4.0)
    # method.md gives 3 decimals; step 202 is exactly 0.49546, which it lists as 0.496 (0.4955 rounded up).
    assert schedule(step) == pytest.approx(expected, abs=6e-4)


def test_exponential_is_increasing_and_ends_at_p_end() -> None:
    values = [p for _, p in Curriculum(total_steps=50).schedule()]
    assert all(a < b for a, b in itertools.pairwise(values))
    assert values[-1] == 0.5


def test_linear_and_constant() -> None:
    linear = Curriculum("linear", p_start=0.1, p_end=0.5, total_steps=4)
    assert [round(p, 4) for _, p in linear.schedule()] == [0.2, 0.3, 0.4, 0.5]
    constant = Curriculum("constant", p_start=0.0, p_end=0.3, total_steps=10)
    assert {p for _, p in constant.schedule()} == {0.3}


def test_resume_gives_the_same_value_as_an_uninterrupted_run() -> None:
    # The schedule is a pure function of (step, m): a restarted run at step 120 is where it would have been.
    before = Curriculum(total_steps=203)
    after_restart = Curriculum(total_steps=203)
    assert after_restart(120) == before(120)
    assert after_restart(121) > before(120)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"p_start": -0.1}, "p_start"),
        ({"p_end": 1.5}, "p_end"),
        ({"total_steps": 0}, "steps"),
        ({"base": 1.0}, "base"),
        ({"kind": "cosine"}, "kind"),
    ],
)
def test_bad_values_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Curriculum(**{"total_steps": 10, **kwargs})
    assert info.value.param == field
    assert field in info.value.message
