"""Run an evaluation: load datasets, check model and search backend, roll out in batches, score, report.

Everything that can fail on bad input is checked before the first generation: the dataset names and
files, the model path (``resolve_model``) and the search backend (``backend.check()``). Questions run in
batches of ``batch_size`` through the shared agent loop (``zerosearch.common.agent.run_rollouts``); the
last batch may be short, so every question asked for is scored (Bamboogle: all of them, defect 4).

    results = main(EvalConfig(datasets=["nq", "bamboogle"], limit=20))
    results["macro"]["em"]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from zerosearch.common.agent import run_rollouts
from zerosearch.common.datasets import dataset_name, load_benchmark
from zerosearch.common.errors import ConfigError
from zerosearch.common.io import default_corpus
from zerosearch.common.models import resolve_model
from zerosearch.common.policies import make_policy
from zerosearch.common.policy import Policy
from zerosearch.common.search.base import SearchBackend, run_sync
from zerosearch.common.search.factory import make_backend
from zerosearch.common.settings import get_common_settings
from zerosearch.common.trajectory import QAItem
from zerosearch.evaluator.config import EvalConfig
from zerosearch.evaluator.report import RunReport
from zerosearch.evaluator.resume import ResumableReport
from zerosearch.evaluator.scoring import macro_average, prediction_record, summarize_dataset

__all__ = ["EvalProgress", "ProgressCallback", "load_datasets", "main", "open_backend", "open_policy"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalProgress:
    """Where a run stands after a batch: questions done over all, and the running strict EM (%)."""

    dataset: str
    done: int
    total: int
    running_em: float


ProgressCallback = Callable[[EvalProgress], None]
"""Called after every batch (the CLI draws a rich bar; RQ jobs write it to the job's meta)."""


def load_datasets(config: EvalConfig) -> dict[str, list[QAItem]]:
    """Every dataset of the run by report name; raises DatasetError for an unknown name or a bad file."""
    data_dir = config.data_dir or get_common_settings().data_dir
    loaded: dict[str, list[QAItem]] = {}
    for spec in config.datasets:
        name = dataset_name(spec)
        if name in loaded:
            raise ConfigError(
                f"two datasets report under the name {name!r}; rename one file", param="datasets"
            )
        loaded[name] = load_benchmark(
            spec, data_dir=data_dir, limit=config.limit, seed=config.seed, source=config.source
        )
        for item in loaded[name]:
            item.dataset = name
    return loaded


def _backend_options(config: EvalConfig, name: str) -> dict[str, Any]:
    """The factory options of backend ``name`` from the config; the factory validates them."""
    if name == "bm25":
        corpus = config.corpus
        if corpus is None and config.data_dir is not None:
            corpus = default_corpus(config.data_dir)
        return {"corpus": corpus}  # None: the factory's default, default_corpus(ZEROSEARCH_DATA_DIR)
    if name == "retrieval" and not config.search_url:
        raise ConfigError("search retrieval needs --search-url (the server's base URL)", param="search_url")
    if name in ("simulator", "retrieval"):
        return {"url": config.search_url}
    return {}


def open_backend(config: EvalConfig) -> SearchBackend | None:
    """Build the run's search backend and check it can serve (fails fast); None for ``direct``."""
    name = config.resolved_search()
    if name is None:
        return None

    backend = make_backend(name, **_backend_options(config, name))
    try:
        run_sync(backend.check())
    except BaseException:
        run_sync(backend.aclose())
        raise
    return backend


def open_policy(config: EvalConfig) -> Policy:
    """Load the policy engine named by the config (a missing model path fails with a clear error)."""
    if config.engine == "transformers" and config.cpu_threads is not None:
        # Heavy dependency (torch): imported on use, so importing this module stays light.
        import torch

        torch.set_num_threads(config.cpu_threads)  # process-wide: a worker runs one job at a time
    if config.engine == "openai":
        if not config.engine_url:
            raise ConfigError(
                "engine openai needs --engine-url (the endpoint's /v1 base URL)", param="engine_url"
            )
        return make_policy("openai", config.model, base_url=config.engine_url)
    return make_policy(config.engine, config.model)


@contextlib.contextmanager
def rich_progress(total: int, enabled: bool) -> Iterator[ProgressCallback | None]:
    """A rich progress bar fed by EvalProgress updates (nothing when disabled)."""
    if not enabled:
        yield None
        return

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("evaluating", total=total)

        def update(progress: EvalProgress) -> None:
            desc = f"{progress.dataset} · EM {progress.running_em:.1f}"
            bar.update(task, completed=progress.done, description=desc)

        yield update


def _evaluate(
    policy: Policy,
    backend: SearchBackend | None,
    datasets: dict[str, list[QAItem]],
    config: EvalConfig,
    report: RunReport,
    callbacks: list[ProgressCallback],
    resumed: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Roll out every dataset in batches, append records to the report, report progress per batch.

    ``resumed`` holds each dataset's first records from a killed run (resume.py); those are not re-run.
    """
    rollout_config = config.rollout_config()
    total = sum(len(items) for items in datasets.values())
    done, em_sum = 0, 0.0
    records: dict[str, list[dict[str, Any]]] = {}
    for name, items in datasets.items():
        records[name] = list((resumed or {}).get(name, []))
        done += len(records[name])
        em_sum += sum(r["em"] for r in records[name])
        todo = items[len(records[name]) :]  # the questions still to score
        for start in range(0, len(todo), config.batch_size):
            batch = todo[start : start + config.batch_size]
            trajectories = run_rollouts(policy, backend, batch, rollout_config)
            batch_records = [prediction_record(t) for t in trajectories]
            report.append(batch_records)
            records[name].extend(batch_records)
            done += len(batch_records)
            em_sum += sum(r["em"] for r in batch_records)
            progress = EvalProgress(name, done, total, round(100.0 * em_sum / done, 2))
            for callback in callbacks:
                callback(progress)
    return records


def main(
    config: EvalConfig,
    *,
    policy: Policy | None = None,
    backend: SearchBackend | None = None,
    on_progress: ProgressCallback | None = None,
    show_progress: bool = False,
    resume: bool = False,
) -> dict[str, Any]:
    """Run one evaluation and write its report; returns the ``results.json`` content.

    ``policy`` and ``backend`` may be passed in (already loaded, e.g. by the trainer or tests); they are
    then left open. Otherwise they are built from the config and closed at the end. With ``resume`` the
    partial predictions of a killed identical run in the output folder are kept and not scored again.
    """
    datasets = load_datasets(config)  # bad names and files fail before anything loads
    total = sum(len(items) for items in datasets.values())
    if policy is None and config.engine != "openai":
        resolve_model(config.model)  # a missing model path fails before the backend is even contacted
    own_backend = backend is None and config.resolved_search() is not None
    if own_backend:
        backend = open_backend(config)
    own_policy = policy is None
    try:
        if policy is None:
            policy = open_policy(config)
        out_dir = config.output_dir()
        report = ResumableReport(out_dir, config)
        resumed = report.resume(datasets) if resume else {}
        if not resume:
            report.start()
        started, wall = dt.datetime.now(dt.UTC), time.perf_counter()
        with rich_progress(total, show_progress) as bar:
            callbacks = [c for c in (on_progress, bar) if c is not None]
            records = _evaluate(policy, backend, datasets, config, report, callbacks, resumed)
        elapsed = time.perf_counter() - wall
        results = _results(config, records, out_dir, started, elapsed)
        results["run"]["resumed"] = sum(len(recs) for recs in resumed.values())  # taken over, not re-scored
        report.finish(results)
        return results
    finally:
        if own_policy and policy is not None:
            policy.close()
        if own_backend and backend is not None:
            run_sync(backend.aclose())


def _results(
    config: EvalConfig,
    records: dict[str, list[dict[str, Any]]],
    out_dir: Path,
    started: dt.datetime,
    elapsed: float,
) -> dict[str, Any]:
    """The ``results.json`` content: per-dataset summaries, the macro average and the run's facts."""
    per_dataset = {name: summarize_dataset(recs) for name, recs in records.items()}
    questions = sum(len(recs) for recs in records.values())
    return {
        "datasets": per_dataset,
        "macro": macro_average(per_dataset),
        "run": {
            "model": config.model,
            "method": config.method,
            "search": config.resolved_search(),
            "questions": questions,
            "elapsed_s": round(elapsed, 3),
            "questions_per_s": round(questions / elapsed, 4) if elapsed > 0 else None,
            "started_at": started.isoformat(),
            "out_dir": str(out_dir),
        },
        "config": config.model_dump(mode="json"),
    }
