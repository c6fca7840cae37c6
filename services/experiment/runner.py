"""Run an experiment: split once, start the services, then for each seed train every GRPO arm (the first
one runs the shared cold start) and evaluate the cold start, every job through the queues; then report.

Resumable: each finished (arm, seed) writes ``<out>/<arm>/seed-<seed>/result.json`` and is skipped when the
same command runs again on the same ``--out`` (a half-done training resumes from its run folder).

    summary = run_experiment(load_experiment("configs/experiment/experiment.yaml"), Path("runs/experiment"))
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import redis

from zerosearch.common.errors import ConfigError, ServerError
from zerosearch.common.follow import follow_job, follow_jobs, job_result
from zerosearch.common.io import read_jsonl
from zerosearch.common.log import make_console
from zerosearch.common.preflight import require_data, require_model
from zerosearch.common.settings import get_common_settings
from zerosearch.demo import split_heldout
from zerosearch.evaluator.config import build_eval_config
from zerosearch.evaluator.jobs import submit_eval
from zerosearch.experiment.arms import SplitFiles, arm_dir, check_shared_cold_start, train_payload
from zerosearch.experiment.config import ArmKind, ExperimentConfig
from zerosearch.experiment.pool import answerable_pool
from zerosearch.experiment.report import rich_table, summarize, write_report
from zerosearch.experiment.services import running_services
from zerosearch.trainer.callbacks import eval_payload
from zerosearch.trainer.config import parse_train_config
from zerosearch.trainer.jobs import submit_train
from zerosearch.trainer.run_dir import RunDir

__all__ = ["SIMULATOR_MODEL", "run_experiment"]

log = logging.getLogger(__name__)
console = make_console()

SIMULATOR_MODEL = "smollm2-135m"
"""The simulator's model when the experiment starts its own (the bundled one, as in the demo)."""

_RESULT = "result.json"


def _check_same_experiment(out: Path, experiment: ExperimentConfig) -> None:
    """A resumed experiment must use the split, steps and evaluation its finished runs used."""
    fixed = experiment.model_dump(
        mode="json", include={"heldout", "train_questions", "grpo_pool", "split_seed", "steps", "eval_search"}
    )
    path = out / "experiment.json"
    if path.is_file():
        before = json.loads(path.read_text())
        changed = sorted(key for key in fixed if before.get(key) != fixed[key])
        if changed:
            raise ConfigError(
                f"{out} holds an experiment with other {', '.join(changed)}: choose a new --out", param="out"
            )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fixed, indent=2))


def _enqueued_evals(run_dir: Path) -> dict[str, str]:
    index = run_dir / "eval_jobs.jsonl"
    return (
        {f"eval {row['checkpoint']}": row["job_id"] for row in read_jsonl(index)} if index.is_file() else {}
    )


def _train(conn: redis.Redis, payload: dict[str, Any], label: str, timeout_s: float) -> dict[str, Any]:
    """Submit the training job, follow it and the final model's eval job it enqueues; the run's result."""
    config = parse_train_config(payload, source=label)
    job = submit_train(conn, config)
    run_dir = Path(payload["output_dir"])
    jobs = follow_jobs(
        conn,
        {f"train {label}": job.id},
        timeout_s=timeout_s,
        discover=lambda: _enqueued_evals(run_dir),
        console=console,
    )
    job_result(jobs[f"train {label}"])
    evals = [name for name in jobs if name.startswith("eval final")]
    if not evals:
        raise ServerError(f"training {label} enqueued no eval of its final model")
    return {
        "eval": job_result(jobs[evals[-1]]),
        "metrics": RunDir(run_dir).read_metrics(),
        "run_dir": str(run_dir),
    }


def _evaluate(
    conn: redis.Redis, payload: dict[str, Any], model: Path, out: Path, label: str, timeout_s: float
) -> dict[str, Any]:
    """Evaluate ``model`` through the evaluator worker with the arm's eval settings."""
    settings = parse_train_config(payload, source=label).eval
    job = submit_eval(
        conn, build_eval_config(eval_payload(settings, model, out, None)), description=f"eval {label}"
    )
    return {
        "eval": follow_job(conn, job.id, label=f"eval {label}", timeout_s=timeout_s, console=console),
        "metrics": [],
        "run_dir": str(model),
    }


def _run_seed(
    conn: redis.Redis, experiment: ExperimentConfig, seed: int, out: Path, split: SplitFiles, sim_url: str
) -> dict[str, dict[str, Any]]:
    """Every arm of one seed: GRPO arms first (the first runs the cold start), then the cold-start arms."""
    done: dict[str, dict[str, Any]] = {}
    shared: Path | None = None
    first_run: dict[str, Any] | None = None
    order = experiment.grpo_arms() + [a for a in experiment.arms if a.kind is ArmKind.COLD_START]
    for arm in order:
        folder = arm_dir(out, arm, seed)
        label = f"{arm.name} seed {seed}"
        payload = train_payload(
            experiment, arm, seed, out, split, simulator_url=sim_url, cold_start_model=shared
        )
        if (folder / _RESULT).is_file():
            log.info("%s: done before, skipped (%s)", label, folder / _RESULT)
            done[arm.name] = json.loads((folder / _RESULT).read_text())
        else:
            console.rule(f"[bold]{label}")
            start = time.perf_counter()
            if arm.kind is ArmKind.GRPO:
                if first_run is not None:
                    _share_pool(first_run, payload)
                result = _train(conn, payload, label, experiment.timeout_s)
            else:
                assert shared is not None  # the config requires a GRPO arm, which ran first
                result = _evaluate(conn, payload, shared, folder / "eval", label, experiment.timeout_s)
            result["seconds"] = time.perf_counter() - start
            folder.mkdir(parents=True, exist_ok=True)
            (folder / _RESULT).write_text(json.dumps(result, indent=2))
            done[arm.name] = result
        if shared is None and arm.kind is ArmKind.GRPO:
            shared = Path(payload["output_dir"]) / "cold_start"
            first_run = payload
    return done


def _share_pool(first: dict[str, Any], payload: dict[str, Any]) -> None:
    """Give a later GRPO arm the first arm's pool when both ask for the same one: the probe (same cold start,
    seed and engine) would choose it again, and it costs minutes per arm."""
    config, first_config = parse_train_config(payload), parse_train_config(first)
    same_probe = config.pool.search == "bm25" or config.search == first_config.search
    if not config.pool.enabled or config.pool != first_config.pool or not same_probe:
        return
    source = RunDir(Path(first["output_dir"])).pool_file
    target = RunDir(Path(payload["output_dir"]))
    if source.is_file() and not target.config_file.is_file() and not target.pool_file.is_file():
        target.root.mkdir(parents=True, exist_ok=True)
        target.pool_file.write_text(source.read_text())
        log.info("%s: the first arm's pool (%s)", target.root, source)


def _signal_arm(experiment: ExperimentConfig) -> str | None:
    """The arm whose learning signal the figure shows: the first GRPO arm (the curriculum arm)."""
    return experiment.grpo_arms()[0].name


def run_experiment(
    experiment: ExperimentConfig, out: Path, *, simulator_url: str | None = None
) -> dict[str, Any]:
    """Run (or resume) the experiment under ``out``; returns the summary and writes the report."""
    settings = get_common_settings()
    data_dir = require_data(settings.data_dir, experiment.heldout, corpus=True)
    out = out.resolve()
    _check_same_experiment(out, experiment)
    split = SplitFiles(
        *split_heldout(data_dir, out, experiment.heldout, experiment.train_questions, experiment.split_seed)
    )
    if experiment.grpo_pool is not None:
        first = parse_train_config(
            train_payload(
                experiment, experiment.grpo_arms()[0], 0, out, split, simulator_url="http://127.0.0.1:1"
            )
        )
        split = answerable_pool(
            split, out, pool=experiment.grpo_pool, corpus=data_dir / "corpus" / "wiki_mini.jsonl",
            top_k=first.rollout.top_k,
        )  # fmt: skip
    check_shared_cold_start(
        experiment, split, out
    )  # also validates every arm's config before anything starts
    for arm in experiment.arms:
        require_model(
            str(
                parse_train_config(
                    train_payload(experiment, arm, 0, out, split, simulator_url="http://127.0.0.1:1"),
                    source=arm.name,
                ).model
            )
        )
    if simulator_url is None:
        require_model(SIMULATOR_MODEL)
    start = time.perf_counter()
    results: dict[str, dict[str, Any]] = {arm.name: {} for arm in experiment.arms}
    with running_services(
        out, simulator_url=simulator_url, simulator_model=SIMULATOR_MODEL, simulator_tokens=96
    ) as svc:
        for seed in experiment.seeds:
            for arm_name, result in _run_seed(
                svc.conn, experiment, seed, out, split, svc.simulator_url
            ).items():
                results[arm_name][str(seed)] = result
    summary = summarize(results)
    meta = {**experiment.model_dump(mode="json"), "out": str(out), "seconds": time.perf_counter() - start}
    paths = write_report(out, results, summary, signal_arm=_signal_arm(experiment), meta=meta)
    console.print(rich_table(summary))
    console.print((out / "results.md").read_text())
    for path in paths.values():
        console.print(f"  {path}")
    console.print(f"[green]experiment finished in {meta['seconds']:.0f}s[/green]")
    return summary
