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
