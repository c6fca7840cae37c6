"""``zerosearch demo``: the whole ZeroSearch loop on one machine, with the embedded defaults.

Stages (each timed):
  1. start a real Redis (embedded unless REDIS_URL), the simulator (bundled model) and one trainer and one
     evaluator worker as child processes; wait on /readyz and worker heartbeats;
  2. show the idea: the same query in useful mode (question and answer given) and in noisy mode, side by
     side, and the curriculum's noise schedule (step → p) for this run's steps;
  3. evaluate the untrained policy on a held-out slice (bm25 over the local corpus = the "real engine");
  4. submit a training job (cold-start SFT, then GRPO with curriculum noise against the simulator); its
     final checkpoint enqueues an eval job by itself — training → evaluation with nobody in between; the
     cold-start model is evaluated too (enqueued as soon as it is saved), so GRPO's share of the gain shows;
  5. print the before/after table and where plots and reports are.
Inputs (data files, models, config, Redis, port) are checked before anything starts; every child is
stopped on success, failure and Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from rich.table import Table

from zerosearch.common.config_file import read_config_file
from zerosearch.common.connection import EmbeddedRedis, connect, free_port
from zerosearch.common.errors import ConfigError, DatasetError, ServerError
from zerosearch.common.follow import follow_job, follow_jobs, job_result
from zerosearch.common.io import read_jsonl
from zerosearch.common.log import make_console
from zerosearch.common.preflight import require_data, require_model, require_port_free, require_redis
from zerosearch.common.processes import Supervisor, zerosearch_command
from zerosearch.common.settings import get_common_settings
from zerosearch.evaluator.config import build_eval_config
from zerosearch.evaluator.jobs import submit_eval
from zerosearch.showcase import fetch_showcase, schedule_table, searches_table
from zerosearch.trainer.callbacks import eval_payload
from zerosearch.trainer.config import parse_train_config
from zerosearch.trainer.jobs import submit_train

__all__ = ["DemoOptions", "main", "simulator_engine"]

log = logging.getLogger(__name__)
console = make_console()

_ROOT = Path(__file__).resolve().parents[1]
_SIMULATOR_MODEL = "smollm2-135m"


@dataclass
class DemoOptions:
    """What the demo runs; the defaults took 7.0–7.4 minutes on 2 CPU cores (docs/benchmarks.md)."""

    heldout: dict[str, int] = field(default_factory=lambda: {"nq": 30, "hotpotqa": 15})
    train_questions: int = 256
    config: Path = _ROOT / "configs" / "cpu-tiny.yaml"
    steps: int | None = None
    searches: int = 3
    out: Path | None = None
    port: int = 0
    seed: int = 0
    timeout_s: float = 3600.0


@dataclass
class _Stages:
    times: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        console.rule(f"[bold]{name}")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.times[name] = time.perf_counter() - start
            console.print(f"[dim]{name}: {self.times[name]:.1f}s[/dim]")


def split_heldout(
    data_dir: Path, out: Path, heldout: dict[str, int], train_questions: int, seed: int
) -> tuple[list[Path], list[Path]]:
    """Write disjoint held-out and training JSONL files per dataset; training never sees a held-out id."""
    rng = random.Random(seed)
    eval_files, train_files = [], []
    per_train = max(1, train_questions // max(1, len(heldout)))
    for name, count in heldout.items():
        source = data_dir / "qa" / f"{name}.jsonl"
        if not source.is_file():
            raise DatasetError(
                f"{source} not found: data/ is missing from the checkout; set ZEROSEARCH_DATA_DIR to a folder with qa/ and corpus/"
            )
        rows = read_jsonl(source)
        rng.shuffle(rows)
        if count >= len(rows):
            raise ConfigError(f"held-out {name}: {count} questions leaves none to train on", param=name)
        for folder, chunk, files in (
            ("heldout", rows[:count], eval_files),
            ("train", rows[count : count + per_train], train_files),
        ):
            path = out / "data" / folder / f"{name}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in chunk))
            files.append(path)
    return eval_files, train_files


def show_idea(url: str, count: int, schedule: list[tuple[int, float]], kind: str, k: int = 3) -> None:
    """The simulator's two modes side by side for ``count`` queries (``k`` documents, the training top_k),
    then the curriculum's noise schedule of this run."""
    if count:
        console.print(searches_table(fetch_showcase(url, count, k=k)))
    console.print(schedule_table(schedule, kind=kind))


def _enqueued_evals(run_dir: Path) -> dict[str, str]:
    """The eval jobs a training has enqueued so far (its ``eval_jobs.jsonl``), label → job id."""
    index = run_dir / "eval_jobs.jsonl"
    if not index.is_file():
        return {}
    return {f"eval {row['checkpoint']}": row["job_id"] for row in read_jsonl(index)}


def _train_payload(
    options: DemoOptions,
    config: dict[str, Any],
    sim_url: str,
    out: Path,
    train_files: list[Path],
    eval_files: list[Path],
) -> dict[str, Any]:
    """The training job's config: the config file with the demo's simulator, data split and eval on top;
    validated here, so a bad field fails before the baseline runs."""
    payload = dict(config)
    payload.update(
        simulator_url=sim_url, datasets=[str(p) for p in train_files], output_dir=str(out / "train")
    )
    if options.steps is not None:
        payload["steps"] = options.steps
    # The demo evaluates the final model only: intermediate checkpoints would queue more evals of a
    # 2-core machine's time (`train run` with the same config keeps its checkpoint interval).
    payload["checkpoint_interval"] = int(payload.get("steps", 1)) + 1
    evaluation = dict(payload.get("eval") or {})
    # Baseline and trained model are scored on the same held-out files with the same settings.
    evaluation.update(enabled=True, datasets=[str(p) for p in eval_files], limit=None)
    payload["eval"] = evaluation
    parse_train_config(payload, source=options.config.name)
    return payload


def _row(label: str, results: dict[str, Any]) -> list[str]:
    datasets = results.get("datasets", {})
    n = sum(d.get("n", 0) for d in datasets.values()) or 1

    def weighted(key: str) -> float:
        return sum(d.get(key, 0.0) * d.get("n", 0) for d in datasets.values()) / n

    macro = results.get("macro", {})
    return [
        label,
        f"{macro.get('em', 0.0):.1f}",
        f"{macro.get('cover_em', 0.0):.1f}",
        f"{macro.get('f1', 0.0):.1f}",
        f"{weighted('format_valid'):.1f}",
        f"{weighted('searches_per_question'):.2f}",
    ]


def _print_report(
    before: dict[str, Any],
    after: dict[str, Any],
    out: Path,
    stages: _Stages,
    cold: dict[str, Any] | None = None,
) -> None:
    table = Table(title="Held-out questions (bm25 over the local corpus as the real engine)")
    for column in ("policy", "strict EM", "cover EM", "F1", "format-valid %", "searches/q"):
        table.add_column(column, justify="right" if column != "policy" else "left")
    table.add_row(*_row("before (untrained)", before))
    if cold is not None:
        table.add_row(*_row("cold start only (no GRPO)", cold))
    table.add_row(*_row("after (cold start + GRPO)", after))
    console.print(table)
    width = max((len(name) for name in stages.times), default=0)
    for name, seconds in stages.times.items():
        console.print(f"  {name:<{width}} {seconds:7.1f}s")
    console.print(f"[bold]plots and reports under[/bold] {out}")
    for path in sorted(out.rglob("*.png")) + sorted(out.rglob("results.md")):
        console.print(f"  {path}")


def main(options: DemoOptions) -> int:
    """Run the demo; returns 0 on success (errors propagate as ZeroSearchError for the CLI)."""
    config = read_config_file(options.config)  # a missing or malformed file fails before anything starts
    port = options.port or free_port()
    out = (options.out or Path("runs") / "demo" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    train = _check_inputs(options, config, port, out)
    schedule = _schedule(train)
    stages = _Stages()
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM cleans up like Ctrl-C
    try:
        with _services(port, out, stages, _simulator_slots(train, options.searches)) as conn:
            with stages.stage("the idea: useful vs noisy search, and the noise curriculum"):
                show_idea(f"http://127.0.0.1:{port}", options.searches, *schedule)
            with stages.stage("baseline: evaluate the untrained policy"):
                before = _baseline(conn, train, out, options.timeout_s)
            with stages.stage("train: cold start + GRPO, then its eval job"):
                after, cold = _train_and_eval(conn, train, out, options.timeout_s)
        _print_report(before, after, out, stages, cold)
        console.print(f"[green]demo finished in {sum(stages.times.values()):.0f}s[/green]")
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_inputs(options: DemoOptions, config: dict[str, Any], port: int, out: Path) -> dict[str, Any]:
    """Everything the demo needs, checked before it starts a process: data files, the models, the training
    config, Redis and the simulator port. Writes the held-out/train split; returns the training payload."""
    settings = get_common_settings()
    data_dir = require_data(settings.data_dir, options.heldout, corpus=True)
    if options.port:
        require_port_free("127.0.0.1", port)
    require_model(_SIMULATOR_MODEL)
    if settings.redis_url:
        require_redis(settings.redis_url)
    out.mkdir(parents=True, exist_ok=True)
    eval_files, train_files = split_heldout(
        data_dir, out, options.heldout, options.train_questions, options.seed
    )
    train = _train_payload(options, config, f"http://127.0.0.1:{port}", out, train_files, eval_files)
    require_model(str(train.get("model") or _SIMULATOR_MODEL))
    return train


def _schedule(train: dict[str, Any]) -> tuple[list[tuple[int, float]], str]:
    """The run's curriculum as (step, p) pairs, and its kind."""
    parsed = parse_train_config(train, source="demo")
    return parsed.curriculum_schedule().schedule(), str(parsed.curriculum.kind)


def simulator_engine() -> str:
    """The demo simulator's engine: ``llamacpp`` (llama.cpp's server: ~3× the documents/s of our
    transformers engine on 2 cores, docs/benchmarks.md) when its binary is found (``make install`` builds
    it once where cmake and a C++ compiler exist), else ``transformers``: the demo never starts a build."""
    from zerosearch.simulator.engines.llama_server import find_llama_server

    configured = os.environ.get("ZEROSEARCH_LLAMA_SERVER_PATH")
    if configured or find_llama_server(None) is not None:
        return "llamacpp"
    return "transformers"


def _simulator_slots(train: dict[str, Any], searches: int) -> int:
    """Requests the demo's simulator generates together: the most the demo sends at once (a GRPO step's
    rollouts, the showcase's searches in both modes), at most the simulator's default 16. llama-server
    warms each slot's prompt cache at start: 16 slots took 33 s to be ready, 8 took 18 s (2 cores)."""
    parsed = parse_train_config(train, source="demo")
    return max(1, min(16, max(parsed.num_generations * parsed.prompts_per_step, 2 * searches)))


@contextmanager
def _services(port: int, out: Path, stages: _Stages, slots: int = 16) -> Iterator[redis.Redis]:
    settings = get_common_settings()
    console.rule("[bold]start Redis, simulator and workers")
    embedded = None if settings.redis_url else EmbeddedRedis(parent=out / "redis").start()
    redis_url = settings.redis_url or embedded.url  # type: ignore[union-attr]
    sim_url = f"http://127.0.0.1:{port}"
    env = {
        "REDIS_URL": redis_url,
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
        # The thread policy (OMP_WAIT_POLICY, OMP_NUM_THREADS) set by the CLI is inherited with os.environ.
    }
    try:
        with Supervisor(log_dir=out / "logs") as sup:
            start = time.perf_counter()
            # 96 new tokens a search: 3 documents of ~25 words, the training config's top_k.
            serve = [
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--model",
                _SIMULATOR_MODEL,
                "--max-new-tokens",
                "96",
                "--max-batch-size",
                str(slots),
                "--engine",
                simulator_engine(),
            ]
            sim = sup.start("simulator", zerosearch_command("simulator", "serve", *serve), env=env)
            trainer = sup.start(
                "trainer-worker", zerosearch_command("trainer", "worker", "--queues", "train,sft"), env=env
            )
            evaluator = sup.start("evaluator-worker", zerosearch_command("evaluator", "worker"), env=env)
            conn = connect(redis_url)
            sup.wait_http(sim, f"{sim_url}/readyz", timeout_s=600)
            sup.wait_worker(trainer, conn, "train")
            sup.wait_worker(evaluator, conn, "eval")
            stages.times["start Redis, simulator and workers"] = time.perf_counter() - start
            console.print(f"simulator {sim_url} · Redis {redis_url} · logs {out / 'logs'}")
            yield conn
            conn.close()
    finally:
        if embedded is not None:
            embedded.stop()


def _baseline(conn: redis.Redis, train: dict[str, Any], out: Path, timeout_s: float) -> dict[str, Any]:
    """Evaluate the untrained policy through the evaluator worker, with the trainer's eval settings."""
    settings = parse_train_config(train, source="demo").eval  # eval limits inherited from the run's rollout
    payload = eval_payload(settings, Path(train["model"]), out / "eval" / "baseline", None)
    payload["model"] = train["model"]  # an alias stays an alias (not a path)
    job = submit_eval(conn, build_eval_config(payload), description="eval baseline")
    return follow_job(conn, job.id, label="baseline eval", timeout_s=timeout_s, console=console)


def _cold_start_eval(conn: redis.Redis, train: dict[str, Any], out: Path) -> Callable[[], dict[str, str]]:
    """A ``discover`` hook: once the run's cold-start model is saved, enqueue its eval (once) beside GRPO, so
    the report shows which part of the gain is GRPO's."""
    parsed = parse_train_config(train, source="demo")
    folder = Path(train["output_dir"]) / "cold_start"
    submitted: dict[str, str] = {}

    def discover() -> dict[str, str]:
        if not submitted and parsed.cold_start.enabled and (folder / "config.json").is_file():
            payload = eval_payload(parsed.eval, folder, out / "eval" / "cold_start", None)
            job = submit_eval(conn, build_eval_config(payload), description="eval cold start")
            submitted[_COLD_START] = job.id
        return submitted

    return discover


_COLD_START = "cold start eval"


def _train_and_eval(
    conn: redis.Redis, train: dict[str, Any], out: Path, timeout_s: float
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Submit the training job and follow it, the eval jobs it enqueues and the cold start's eval; return
    the final model's results and the cold start's (None without a cold start)."""
    job = submit_train(conn, parse_train_config(train, source="demo"))
    run_dir = Path(train["output_dir"])
    cold_start = _cold_start_eval(conn, train, out)
    jobs = follow_jobs(
        conn,
        {"train": job.id},
        timeout_s=timeout_s,
        discover=lambda: {**_enqueued_evals(run_dir), **cold_start()},
        console=console,
    )
    job_result(jobs["train"])
    evals = [label for label in jobs if label.startswith("eval ")]
    if not evals:
        raise ServerError("the training job enqueued no eval job (is eval.enabled set in the config?)")
    cold = job_result(jobs[_COLD_START]) if _COLD_START in jobs else None
    return job_result(jobs[evals[-1]]), cold
