"""``zerosearch sft ...`` verbs: simulation tuning (collect, label, build, train, submit, fidelity).

Each verb only parses flags into its stage config and calls that stage's ``main(config)``; heavy imports
(torch, transformers, TRL) happen inside the stage's functions, so ``zerosearch --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.progress import Progress

from zerosearch.common.config_file import merge_config
from zerosearch.common.connection import redis_connection
from zerosearch.common.errors import ConfigError
from zerosearch.common.follow import follow_job
from zerosearch.common.jobs_cli import ConfigFileOption, FollowOption
from zerosearch.common.queue import QueueName, run_worker
from zerosearch.common.settings import get_common_settings
from zerosearch.tuning import build as build_stage
from zerosearch.tuning import collect as collect_stage
from zerosearch.tuning import fidelity as fidelity_stage
from zerosearch.tuning import label as label_stage
from zerosearch.tuning import train as train_stage
from zerosearch.tuning.config import (
    BuildConfig,
    CollectConfig,
    FidelityConfig,
    LabelConfig,
    SFTTrainConfig,
    parse_sft_config,
)
from zerosearch.tuning.jobs import submit as submit_job

__all__ = ["sft_app"]

sft_app = typer.Typer(
    help="Simulation tuning: collect, label, fine-tune the simulator, measure fidelity.", no_args_is_help=True
)

Config = TypeVar("Config", bound=BaseModel)


def _config(config_class: type[Config], /, **flags: Any) -> Config:
    """Build a stage config from flags (None = the config's default); bad values name the flag."""
    try:
        return config_class(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError.from_validation(exc, "options") from exc


def _show(report: BaseModel) -> None:
    for key, value in report.model_dump(mode="json").items():
        typer.echo(f"{key}: {value}")


@sft_app.command()
def collect(
    questions: str = typer.Option(None, help="Benchmark name or QA file (default nq)."),
    limit: int = typer.Option(None, help="Questions to collect (seeded sample; default 64)."),
    policy: str = typer.Option(None, help="Policy model: alias, folder or hub id."),
    method: str = typer.Option(
        None, help="agent (the policy searches) or rag (one search with the question)."
    ),
    backend: str = typer.Option(None, help="Real engine: bm25, retrieval, serpapi, serper, tavily or brave."),
    corpus: Path = typer.Option(
        None, help="Corpus JSONL for bm25 (default <data_dir>/corpus/wiki_mini.jsonl)."
    ),
    backend_url: str = typer.Option(None, help="Retrieval URL (backend retrieval)."),
    max_new_tokens: int = typer.Option(None, help="Policy tokens per turn."),
    batch_size: int = typer.Option(None, help="Questions per saved batch."),
    seed: int = typer.Option(None, help="Sample and sampling seed."),
    output: Path = typer.Option(None, help="JSONL to append to (resumes by question id)."),
) -> None:
    """Run a policy against a real engine and store every (question, sub-query, documents)."""
    config = _config(CollectConfig, **locals())
    with Progress(transient=True) as bar:
        task = bar.add_task("collect", total=None)
        report = collect_stage.main(
            config, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    _show(report)


@sft_app.command()
def label(
    input: Path = typer.Option(None, "--input", help="Collected JSONL."),
    output: Path = typer.Option(None, help="Labelled JSONL to write."),
    rule: str = typer.Option(None, help="answer, trajectory or judge."),
    correct_metric: str = typer.Option(None, help="trajectory rule: em or cover_em."),
    judge_url: str = typer.Option(
        None, envvar="ZEROSEARCH_JUDGE_URL", help="OpenAI-compatible base URL (…/v1)."
    ),
    judge_model: str = typer.Option(None, help="Judge model name at the endpoint, or a local model."),
    judge_api_key: str = typer.Option(None, envvar="ZEROSEARCH_JUDGE_API_KEY", help="Judge bearer token."),
) -> None:
    """Label every collected document useful or noisy and report the balance."""
    config = _config(LabelConfig, **locals())
    report = label_stage.main(config)
    typer.echo(report.summary())


@sft_app.command()
def build(
    input: Path = typer.Option(None, "--input", help="Labelled JSONL."),
    output_dir: Path = typer.Option(None, help="Folder for train.jsonl and valid.jsonl."),
    valid_fraction: float = typer.Option(None, help="Share of questions held out for validation."),
    max_doc_words: int = typer.Option(None, help="Snippet length of each target document in words."),
    max_examples: int = typer.Option(None, help="Cap on examples after balancing."),
    no_balance: bool = typer.Option(False, "--no-balance", help="Keep the label imbalance."),
    seed: int = typer.Option(None, help="Balancing and split seed."),
) -> None:
    """Build balanced SFT examples in the simulator's tuned prompt format."""
    flags = {k: v for k, v in locals().items() if k != "no_balance"}
    config = _config(BuildConfig, balance=not no_balance, **flags)
    _show(build_stage.main(config))


@sft_app.command()
def train(
    model: str = typer.Option(None, help="Base simulator model: alias, folder or hub id."),
    data_dir: Path = typer.Option(None, help="Folder with train.jsonl and valid.jsonl."),
    output_dir: Path = typer.Option(None, help="Where the tuned HF folder goes."),
    method: str = typer.Option(None, help="full or lora."),
    learning_rate: float = typer.Option(None, help="Peak learning rate (paper: 1e-6)."),
    batch_size: int = typer.Option(None, help="Examples per step (paper: 2)."),
    grad_accum: int = typer.Option(None, help="Gradient accumulation steps."),
    max_steps: int = typer.Option(None, help="Optimizer steps (paper: 1000)."),
    max_length: int = typer.Option(None, help="Longest example in tokens."),
    device: str = typer.Option(None, help="auto, cpu or cuda."),
    seed: int = typer.Option(None, help="Training seed."),
) -> None:
    """Fine-tune the simulator (TRL SFTTrainer, loss on the documents only)."""
    config = _config(SFTTrainConfig, **locals())
    _show(train_stage.main(config))


@sft_app.command()
def submit(
    config: ConfigFileOption = None,
    work_dir: Path = typer.Option(None, help="Folder for every stage's files (overrides the config)."),
    run_here: bool = typer.Option(False, "--run-here", help="Also run a burst worker in this process."),
    follow: FollowOption = False,
) -> None:
    """Enqueue collect → label → build → train as one job on the sft queue."""
    redis_url = get_common_settings().redis_url
    if not redis_url and not run_here:
        # The embedded Redis lives only as long as this command: a job left on it would never run.
        raise ConfigError(
            "REDIS_URL is unset: point it at the workers' Redis, or pass --run-here", param="redis_url"
        )
    flags = {"work_dir": str(work_dir) if work_dir is not None else None}
    pipeline = parse_sft_config(merge_config(config, flags), source=config.name if config else "flags")
    with redis_connection(redis_url) as conn:
        job = submit_job(conn, pipeline)
        typer.echo(f"job {job.id} on queue sft (work dir {pipeline.work_dir})")
        if run_here:
            run_worker(conn, [QueueName.SFT], burst=True)
            job.refresh()
            typer.echo(f"job {job.id}: {job.get_status()}")
        elif follow:
            follow_job(conn, job.id, label=f"sft {job.id}")


@sft_app.command()
def fidelity(
    simulator: str = typer.Option(..., "--simulator", help="Base URL of a running simulator."),
    questions: str = typer.Option(None, help="Held-out questions: benchmark name or QA file."),
    limit: int = typer.Option(None, help="How many questions (seeded sample; default 32)."),
    k: int = typer.Option(None, help="Documents per call."),
    backend: str = typer.Option(None, help="Reference engine: bm25, retrieval, a paid web API or none."),
    corpus: Path = typer.Option(None, help="Corpus JSONL for the bm25 reference row."),
    backend_url: str = typer.Option(None, help="Retrieval URL for the reference row."),
    name: str = typer.Option(None, help="Row name of the simulator in the report."),
    output_dir: Path = typer.Option(None, help="Writes fidelity.md, fidelity.json, fidelity.png."),
    seed: int = typer.Option(None, help="Sample and simulator seed."),
) -> None:
    """Measure how a simulator's useful/noisy documents compare with a real engine's."""
    config = _config(FidelityConfig, **locals())
    report = fidelity_stage.main(config)
    typer.echo(fidelity_stage.render_markdown(report))
