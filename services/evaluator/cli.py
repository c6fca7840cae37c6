"""``zerosearch eval run|submit`` and ``zerosearch evaluator worker``.

``run`` and ``submit`` share one set of options, attached by :func:`eval_options` and documented once
from the EvalConfig field descriptions. A flag left out falls back to ``--config FILE`` (YAML with the
same field names) and then to the EvalConfig default. Commands only parse and call ``runner.main`` /
``jobs.submit_eval`` / ``queue.run_worker``; heavy imports (torch, transformers) stay inside them.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import typer

from zerosearch.common.config_file import merge_config
from zerosearch.common.connection import redis_connection
from zerosearch.common.jobs_cli import FollowOption
from zerosearch.common.queue import QueueName, run_worker
from zerosearch.common.settings import get_common_settings
from zerosearch.evaluator.config import EvalConfig, build_eval_config
from zerosearch.evaluator.runner import main as run_main
from zerosearch.evaluator.summary import print_summary, submit_main

__all__ = ["config_from_options", "eval_app", "eval_options", "evaluator_app"]

eval_app = typer.Typer(help="Evaluate a model as a search agent on QA benchmarks.", no_args_is_help=True)
evaluator_app = typer.Typer(help="The evaluator service (RQ worker on the eval queue).", no_args_is_help=True)


def _help(field: str) -> str:
    info = EvalConfig.model_fields[field]
    default = info.get_default(call_default_factory=True)
    shown = ",".join(default) if isinstance(default, list) else default
    return f"{info.description} [default: {shown}]" if shown is not None else str(info.description)


def _choice(field: str) -> Any:
    """The Literal type of a field, optional: typer turns it into a choice of its values."""
    annotation = EvalConfig.model_fields[field].annotation
    values = [a for arg in typing.get_args(annotation) for a in (typing.get_args(arg) or [arg])]
    return Literal[tuple(v for v in values if v is not type(None))] | None


def _options() -> list[tuple[str, Any, Any]]:
    """(field, python type, typer.Option) of every shared flag; each defaults to None = 'not given'."""
    opt = typer.Option
    return [
        ("model", str | None, opt(None, "--model", "-m", help=_help("model"))),
        ("datasets", str | None, opt(None, "--datasets", "-d", help=_help("datasets"))),
        ("method", _choice("method"), opt(None, "--method", help=_help("method"))),
        ("search", _choice("search"), opt(None, "--search", help=_help("search"))),
        ("search_url", str | None, opt(None, "--search-url", help=_help("search_url"))),
        ("corpus", Path | None, opt(None, "--corpus", help=_help("corpus"))),
        ("data_dir", Path | None, opt(None, "--data-dir", help=_help("data_dir"))),
        ("source", _choice("source"), opt(None, "--source", help=_help("source"))),
        ("limit", int | None, opt(None, "--limit", "-n", min=1, help=_help("limit"))),
        ("max_turns", int | None, opt(None, "--max-turns", min=1, max=20, help=_help("max_turns"))),
        ("max_new_tokens", int | None, opt(None, "--max-new-tokens", min=1, max=8192, help=_help("max_new_tokens"))),
        ("top_k", int | None, opt(None, "--top-k", min=1, max=20, help=_help("top_k"))),
        ("batch_size", int | None, opt(None, "--batch-size", min=1, max=1024, help=_help("batch_size"))),
        ("seed", int | None, opt(None, "--seed", min=0, help=_help("seed"))),
        ("temperature", float | None, opt(None, "--temperature", min=0.0, max=5.0, help=_help("temperature"))),
        ("engine", _choice("engine"), opt(None, "--engine", help=_help("engine"))),
        ("engine_url", str | None, opt(None, "--engine-url", help=_help("engine_url"))),
        ("cpu_threads", int | None, opt(None, "--cpu-threads", min=1, max=256, help=_help("cpu_threads"))),
        ("out", Path | None, opt(None, "--out", "-o", help=_help("out"))),
        ("config_file", Path | None, opt(None, "--config", help="YAML file of EvalConfig fields; flags win.")),
    ]  # fmt: skip


def eval_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Attach the shared evaluation flags to a command; it receives them in ``**options``."""
    signature = inspect.signature(func)
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, kind, option in _options()
    ]

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        return func(**kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*own, *shared])  # type: ignore[attr-defined]
    return wrapper


def config_from_options(options: dict[str, Any]) -> EvalConfig:
    """Merge ``--config`` YAML, then the flags given, into a validated EvalConfig."""
    config_file = options.pop("config_file", None)
    return build_eval_config(merge_config(config_file, options))


@eval_app.command("run")
@eval_options
def run(**options: Any) -> None:
    """Evaluate in this process with a progress bar; writes the report to --out."""
    results = run_main(config_from_options(options), show_progress=True)
    print_summary(results)


@eval_app.command("submit")
@eval_options
def submit(
    follow: FollowOption = False,
    **options: Any,
) -> None:
    """Enqueue the evaluation on the eval queue and print the job id (needs REDIS_URL)."""
    submit_main(config_from_options(options), wait=follow)


@evaluator_app.command("worker")
def worker(
    burst: bool = typer.Option(False, "--burst", help="Exit once the queue is empty."),
    name: str | None = typer.Option(None, "--name", help="Worker name (default: RQ's)."),
) -> None:
    """Consume evaluation jobs from the eval queue (REDIS_URL; else an embedded Redis)."""
    with redis_connection(get_common_settings().redis_url) as conn:
        run_worker(conn, [QueueName.EVAL], burst=burst, name=name)
