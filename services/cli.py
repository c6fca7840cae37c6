"""The ``zerosearch`` command: one Typer app that assembles every service's verbs.

Service modules keep heavy imports (torch, transformers, TRL) inside their commands, so that
``zerosearch --help`` answers at once.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from zerosearch.common.allocator import keep_freed_memory
from zerosearch.common.errors import ZeroSearchError
from zerosearch.common.jobs_cli import app as jobs_app
from zerosearch.common.log import make_console, setup_logging
from zerosearch.common.settings import get_common_settings
from zerosearch.common.threads import THREADS_ENV, apply_thread_policy
from zerosearch.evaluator.cli import eval_app, evaluator_app
from zerosearch.experiment.cli import experiment_app
from zerosearch.simulator.cli import app as simulator_app
from zerosearch.trainer.cli import train_app, trainer_app
from zerosearch.tuning.cli import sft_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="zerosearch",
    help="ZeroSearch: train and evaluate search agents against an LLM that simulates the search engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(simulator_app, name="simulator")
app.add_typer(train_app, name="train")
app.add_typer(trainer_app, name="trainer")
app.add_typer(eval_app, name="eval")
app.add_typer(evaluator_app, name="evaluator")
app.add_typer(sft_app, name="sft")
app.add_typer(jobs_app, name="jobs")
app.add_typer(experiment_app, name="experiment")


@app.callback()
def _root(
    log_level: str = typer.Option(
        None, "--log-level", envvar="ZEROSEARCH_LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR."
    ),
    threads: int = typer.Option(
        None,
        "--threads",
        min=1,
        max=1024,
        help=f"CPU threads of this process and the ones it starts [env {THREADS_ENV}; "
        "default: the cores it may use].",
    ),
) -> None:
    """Set the CPU thread and allocator policy (before any verb imports torch) and logging, once for
    every verb."""
    setup_logging((log_level or get_common_settings().log_level).upper())
    apply_thread_policy(threads)
    keep_freed_memory()


@app.command()
def demo(
    nq: int = typer.Option(30, min=1, help="Held-out NQ questions evaluated before and after training."),
    hotpotqa: int = typer.Option(15, min=0, help="Held-out HotpotQA questions evaluated before and after."),
    train_questions: int = typer.Option(256, min=2, help="Training questions (disjoint from the held-out)."),
    steps: int = typer.Option(None, min=1, help="GRPO steps (default: the config's)."),
    config: Path = typer.Option(None, help="Training config (default: configs/cpu-tiny.yaml)."),
    out: Path = typer.Option(None, help="Run folder (default: runs/demo/<time>)."),
    searches: int = typer.Option(3, min=0, max=20, help="Simulator searches shown first."),
    seed: int = typer.Option(0, min=0, help="Seed of the held-out split."),
) -> None:
    """Run the whole loop on the embedded default: simulator, baseline eval, training, eval, report."""
    # The demo imports the trainer (torch, transformers): loaded when the verb runs, so `--help` is instant.
    from zerosearch.demo import DemoOptions
    from zerosearch.demo import main as demo_main

    heldout = {"nq": nq, **({"hotpotqa": hotpotqa} if hotpotqa else {})}
    options = DemoOptions(
        heldout=heldout, train_questions=train_questions, steps=steps, out=out, searches=searches, seed=seed
    )
    if config is not None:
        options.config = config
    raise typer.Exit(demo_main(options))


def main(argv: list[str] | None = None) -> int:
    """Entry point: our errors become one red line ``Type: message`` and exit code 1, no traceback.

    Usage errors (unknown verb, bad flag) are left to Typer's own handling, which names the flag and
    exits with code 2.
    """
    console = make_console(stderr=True)
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ZeroSearchError as exc:
        console.print(f"[red]{type(exc).__name__}[/red]: {exc.message}", highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        logging.getLogger(__name__).warning("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
