"""The bar's power: a Monte Carlo of the training reward under the curriculum (zerosearch.experiment.power)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from zerosearch.cli import app
from zerosearch.experiment.power import bar_power, learning_curve
from zerosearch.trainer.curriculum import Curriculum


def test_learning_curves() -> None:
    assert learning_curve("linear", 0.25, 1.0, 4) == [0.25, 0.5, 0.75, 1.0]
    assert learning_curve("jump", 0.4, 1.0, 3) == [0.4, 1.0, 1.0]


def test_a_learner_without_noise_meets_the_bar_and_a_flat_one_does_not() -> None:
    no_noise = Curriculum(kind="constant", p_end=0.0)
    rising = bar_power(steps=9, rollouts=32, curriculum=no_noise, start=0.0, end=1.0, trials=200)
    flat = bar_power(steps=9, rollouts=32, curriculum=no_noise, start=0.5, end=0.5, trials=200)
    assert rising.one_seed == 1.0
    assert flat.one_seed < 0.1  # only the ~2.5% tail of noise, and the small-sample SE's spread


def test_the_curriculum_takes_the_bar_away_from_a_learner_that_saturates_early() -> None:
    # Run 9's measured shape: 0.43 at step 1, then every useful search answered; the paper's curriculum.
    saturated = bar_power(steps=9, rollouts=8, curriculum=Curriculum(), start=0.43, end=1.0, shape="jump",
                          trials=300)  # fmt: skip
    assert saturated.one_seed == 0.0
    # Steady learning from 0.25 meets it in a minority of seeds at 8 rollouts a step, far more at 32.
    small = bar_power(steps=9, rollouts=8, curriculum=Curriculum(), start=0.25, end=1.0, trials=400)
    large = bar_power(steps=9, rollouts=32, curriculum=Curriculum(), start=0.25, end=1.0, trials=400)
    assert 0.2 < small.one_seed < 0.5 < large.one_seed
    assert small.all_seeds(3) == pytest.approx(small.one_seed**3)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="steps must be at least 6"):
        bar_power(steps=5, rollouts=8, curriculum=Curriculum(), start=0.2, end=1.0)
    with pytest.raises(ValueError, match="start must be within"):
        bar_power(steps=9, rollouts=8, curriculum=Curriculum(), start=1.5, end=1.0)
    result = CliRunner().invoke(app, ["experiment", "power", "--steps", "3"])
    assert result.exit_code == 2 and "at least 6" in result.output


def test_the_command_prints_the_grid() -> None:
    result = CliRunner().invoke(
        app, ["experiment", "power", "--steps", "9", "--rollouts", "8", "--trials", "100", "--p-end", "0.0"]
    )
    assert result.exit_code == 0, result.output
    assert "all 3 seeds" in result.output and "│     9 │" in result.output
