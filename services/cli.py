"""The ``zerosearch`` command: one Typer app that assembles every service's verbs.

Service modules keep heavy imports (torch, transformers, TRL) inside their commands, so that
``zerosearch --help`` answers at once.
"""

from __future__ import annotations

import logging
import sys

import click
import typer
from rich.console import Console

from zerosearch.common.errors import ZeroSearchError
from zerosearch.common.jobs_cli import app as jobs_app
from zerosearch.common.log import setup_logging
from zerosearch.common.settings import get_common_settings
from zerosearch.evaluator.cli import eval_app, evaluator_app
from zerosearch.simulator.cli import app as simulator_app
from zerosearch.trainer.cli import train_app, trainer_app
from zerosearch.trainer.sft_cli import sft_app

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


@app.callback()
def _root(
    log_level: str = typer.Option(
        None, "--log-level", envvar="ZEROSEARCH_LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR."
    ),
) -> None:
    """Set up logging once for every verb."""
    setup_logging((log_level or get_common_settings().log_level).upper())


@app.command()
def demo(
    questions: int = typer.Option(3, min=1, max=50, help="How many searches to run."),
) -> None:
    """Run the main job end to end on the embedded default (bundled model, local data)."""
    from zerosearch.demo import main as demo_main

    raise typer.Exit(demo_main(questions=questions))


def main(argv: list[str] | None = None) -> int:
    """Entry point: our errors become one red line ``Type: message`` and exit code 1, no traceback."""
    console = Console(stderr=True)
    try:
        app(args=argv, standalone_mode=False)
    except ZeroSearchError as exc:
        console.print(f"[red]{type(exc).__name__}[/red]: {exc.message}", highlight=False)
        return 1
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        console.print("[red]Aborted[/red]")
        return 130
    except KeyboardInterrupt:
        logging.getLogger(__name__).warning("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
