"""``zerosearch train run|submit|curriculum`` and ``zerosearch trainer worker``.

Commands only parse flags and call functions tests call directly (``grpo.train``, ``jobs.submit_train``,
``queue.run_worker``); torch, transformers and TRL are imported inside them so ``--help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from zerosearch.common.connection import connect, redis_connection
from zerosearch.common.defaults import CURRICULUM_BASE, CURRICULUM_P_END, CURRICULUM_P_START
from zerosearch.common.errors import ConfigError
from zerosearch.common.follow import follow_job
from zerosearch.common.jobs_cli import FollowOption
from zerosearch.common.queue import QueueName, run_worker
from zerosearch.common.settings import get_common_settings
from zerosearch.trainer.config import load_train_config
from zerosearch.trainer.curriculum import Curriculum
from zerosearch.trainer.jobs import submit_train
from zerosearch.trainer.plots import plot_curriculum

__all__ = ["curriculum_lines", "run_main", "submit_main", "train_app", "trainer_app"]

train_app = typer.Typer(help="Train a search agent with GRPO against the simulator.", no_args_is_help=True)
trainer_app = typer.Typer(
    help="The trainer service (RQ worker on the train and sft queues).", no_args_is_help=True
)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="Run config (YAML), e.g. configs/cpu-tiny.yaml.")
]
StepsOption = Annotated[int | None, typer.Option("--steps", min=1, help="Override the config's steps.")]
OutOption = Annotated[Path | None, typer.Option("--output-dir", help="Override the config's output_dir.")]


def run_main(config_path: Path, *, steps: int | None = None, output_dir: Path | None = None) -> dict:
    """Train in the foreground with a progress bar; eval jobs go to REDIS_URL when it is set."""
    # grpo imports torch, transformers and TRL: loaded when a run starts, so `--help` stays instant.
    from zerosearch.trainer.grpo import train

    config = load_train_config(config_path, steps=steps, output_dir=output_dir)
    url = get_common_settings().redis_url
    conn = connect(url) if url else None  # no REDIS_URL: nobody could consume eval jobs later
    columns = (
        TextColumn("[bold]train"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} {task.description}"),
    )
    with Progress(*columns, TimeElapsedColumn(), transient=False) as progress:
        task = progress.add_task("", total=config.steps)

        def update(meta: dict) -> None:
            text = f"reward {meta['mean_reward']:.3f} p {meta['noise_p']:.4f} search {meta['searches_per_rollout']:.2f}"
            progress.update(task, completed=meta["step"], description=text)

        return train(config, conn=conn, on_progress=update)


def submit_main(
    config_path: Path, *, steps: int | None = None, output_dir: Path | None = None, follow: bool = False
) -> str:
    """Enqueue the run on the ``train`` queue of REDIS_URL; returns the job id (after the job ends with
    ``follow``, which shows its progress bar)."""
    config = load_train_config(config_path, steps=steps, output_dir=output_dir)
    url = get_common_settings().redis_url
    if not url:
        raise ConfigError(
            "train submit needs REDIS_URL (the Redis the trainer workers listen on)", param="REDIS_URL"
        )
    conn = connect(url)
    job = submit_train(conn, config)
    if follow:
        typer.echo(job.id)
        follow_job(conn, job.id, label=f"train {job.id}")
    return job.id


def curriculum_lines(steps: int, *, kind: str, p_start: float, p_end: float, base: float) -> list[str]:
    """One ``step p`` line per step, p to 4 decimals."""
    return [f"{step} {p:.4f}" for step, p in Curriculum(kind, p_start, p_end, steps, base).schedule()]


@train_app.command("run")
def run(config: ConfigOption, steps: StepsOption = None, output_dir: OutOption = None) -> None:
    """Train in the foreground with progress."""
    result = run_main(config, steps=steps, output_dir=output_dir)
    typer.echo(
        f"run {result['run_dir']}: {result['steps']}/{result['total_steps']} steps, final model {result['final_model']}"
    )


@train_app.command("submit")
def submit(
    config: ConfigOption,
    steps: StepsOption = None,
    output_dir: OutOption = None,
    follow: FollowOption = False,
) -> None:
    """Enqueue a training run on the train queue (a `trainer worker` runs it)."""
    job_id = submit_main(config, steps=steps, output_dir=output_dir, follow=follow)
    if not follow:
        typer.echo(job_id)


@train_app.command("curriculum")
def curriculum(
    steps: Annotated[int, typer.Option("--steps", min=1, help="Total steps m.")],
    p_start: Annotated[float, typer.Option("--p-start", min=0.0, max=1.0, help="p_s.")] = CURRICULUM_P_START,
    p_end: Annotated[float, typer.Option("--p-end", min=0.0, max=1.0, help="p_e.")] = CURRICULUM_P_END,
    base: Annotated[
        float, typer.Option("--base", help="Base b of the exponential (> 0, ≠ 1).")
    ] = CURRICULUM_BASE,
    kind: Annotated[str, typer.Option("--kind", help="exponential, linear or constant.")] = "exponential",
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write the schedule as a PNG.")] = None,
) -> None:
    """Print the noise schedule, one `step p` line per step."""
    lines = curriculum_lines(steps, kind=kind, p_start=p_start, p_end=p_end, base=base)
    typer.echo("\n".join(lines))
    if plot is not None:
        schedule = [(int(s), float(p)) for s, p in (line.split() for line in lines)]
        plot_curriculum(schedule, plot)


@trainer_app.command("worker")
def worker(
    burst: Annotated[bool, typer.Option("--burst", help="Exit once the queues are empty.")] = False,
    queues: Annotated[str, typer.Option("--queues", help="Comma-separated queues to consume.")] = "train,sft",
    name: Annotated[str | None, typer.Option("--name", help="Worker name (default: RQ's).")] = None,
) -> None:
    """Consume training (and simulation-tuning) jobs."""
    chosen = []
    for part in (q.strip() for q in queues.split(",") if q.strip()):
        if part not in {QueueName.TRAIN, QueueName.SFT}:
            raise ConfigError(f"--queues: unknown queue {part!r}; use train and/or sft", param="queues")
        chosen.append(QueueName(part))
    if not chosen:
        raise ConfigError("--queues: give at least one of train, sft", param="queues")
    with redis_connection(get_common_settings().redis_url) as conn:
        run_worker(conn, chosen, burst=burst, name=name)
