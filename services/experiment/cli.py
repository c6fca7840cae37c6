"""``zerosearch experiment run``: the paper's experiment in miniature from one command (docs/benchmarks.md,
"Learning signal: the experiment")."""

from __future__ import annotations

import time
from pathlib import Path

import typer

__all__ = ["DEFAULT_EXPERIMENT", "experiment_app"]

DEFAULT_EXPERIMENT = Path(__file__).resolve().parents[2] / "configs" / "experiment" / "experiment.yaml"
"""The shipped experiment file: four arms, three seeds, sized for ~90 minutes on 2 CPU cores."""

experiment_app = typer.Typer(
    help="Cold start vs GRPO against the simulator, a real engine and no curriculum, on held-out questions.",
    no_args_is_help=True,
)


@experiment_app.command("run")
def run(
    config: Path = typer.Option(DEFAULT_EXPERIMENT, help="Experiment file (arms, seeds, held-out sizes)."),
    out: Path = typer.Option(
        None, help="Output folder (default: runs/experiment/<time>); reuse it to resume."
    ),
    seeds: int = typer.Option(None, min=1, max=100, help="Run seeds 1..N instead of the file's seeds."),
    steps: int = typer.Option(None, min=1, help="GRPO steps of every arm (default: each arm config's)."),
    nq: int = typer.Option(None, min=1, help="Held-out NQ questions (default: the file's)."),
    hotpotqa: int = typer.Option(None, min=1, help="Held-out HotpotQA questions (default: the file's)."),
    train_questions: int = typer.Option(None, min=2, help="Training questions (default: the file's)."),
    grpo_pool: int = typer.Option(
        None, min=1, help="GRPO trains on this many answerable training questions (default: the file's)."
    ),
    simulator_url: str = typer.Option(
        None, help="Use this simulator (e.g. on a GPU) instead of starting one."
    ),
) -> None:
    """Run every arm for every seed through the queues, then write results.json, results.md and curves.png."""
    # Heavy imports (torch, transformers through the trainer's config) only when the verb runs.
    from zerosearch.experiment.config import load_experiment
    from zerosearch.experiment.runner import run_experiment

    overrides: dict[str, object] = {
        "steps": steps, "train_questions": train_questions, "grpo_pool": grpo_pool,
    }  # fmt: skip
    if seeds is not None:
        overrides["seeds"] = list(range(1, seeds + 1))
    experiment = load_experiment(config, **overrides)
    if nq is not None or hotpotqa is not None:
        heldout = dict(experiment.heldout)
        heldout.update({k: v for k, v in {"nq": nq, "hotpotqa": hotpotqa}.items() if v is not None})
        experiment = load_experiment(config, **overrides, heldout=heldout)
    run_experiment(
        experiment,
        out or Path("runs") / "experiment" / time.strftime("%Y%m%d-%H%M%S"),
        simulator_url=simulator_url,
    )


@experiment_app.command("power")
def power(
    steps: list[int] = typer.Option([9, 18, 27], help="GRPO steps of a run (repeat the flag for a grid)."),
    rollouts: list[int] = typer.Option([8, 16, 32], help="Rollouts a step (questions × group size)."),
    seeds: int = typer.Option(3, min=1, max=100, help="Seeds that must all meet the bar."),
    p_end: float = typer.Option(0.5, min=0.0, max=1.0, help="Curriculum p at the last step (paper: 0.5)."),
    start: float = typer.Option(
        0.25, min=0.0, max=1.0, help="Policy's answer rate from useful documents, step 1."
    ),
    end: float = typer.Option(1.0, min=0.0, max=1.0, help="The same at the end of the learning curve."),
    shape: str = typer.Option("linear", help="linear: steady over the run; jump: `end` from step 2 on."),
    noisy_reward: float = typer.Option(
        0.0, min=0.0, max=1.0, help="Reward of a rollout whose search was noisy."
    ),
    trials: int = typer.Option(2000, min=100, max=1_000_000, help="Simulated runs per cell."),
) -> None:
    """How often the learning-signal bar (last third > first third by 2 SE, every seed) is met, per size."""
    from rich.console import Console
    from rich.table import Table

    from zerosearch.experiment.power import bar_power
    from zerosearch.trainer.curriculum import Curriculum

    if shape not in ("linear", "jump"):
        raise typer.BadParameter(f"must be linear or jump, got {shape!r}", param_hint="--shape")
    if min(steps) < 6:
        raise typer.BadParameter(f"every value must be at least 6 (two steps a third), got {min(steps)}",
                                 param_hint="--steps")  # fmt: skip
    if min(rollouts) < 1:
        raise typer.BadParameter(
            f"every value must be at least 1, got {min(rollouts)}", param_hint="--rollouts"
        )
    curriculum = Curriculum(p_end=p_end)
    table = Table(
        title=f"Learning-signal bar: p_end {p_end}, u {start} → {end} ({shape}), {trials} runs a cell"
    )
    for column in ("steps", "rollouts a step", "one seed > 2 SE", f"all {seeds} seeds"):
        table.add_column(column, justify="right")
    for n_steps in steps:
        for n_rollouts in rollouts:
            result = bar_power(
                steps=n_steps, rollouts=n_rollouts, curriculum=curriculum, start=start, end=end,
                shape=shape, noisy_reward=noisy_reward, trials=trials,  # type: ignore[arg-type]
            )  # fmt: skip
            table.add_row(
                str(n_steps), str(n_rollouts), f"{result.one_seed:.2f}", f"{result.all_seeds(seeds):.2f}"
            )
    Console().print(table)
