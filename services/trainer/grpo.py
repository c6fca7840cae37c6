"""GRPO training with simulated-search rollouts: dataset → config → trainer → train → save → eval jobs.

Order matters for failing fast: the config, the eval settings and the simulator are checked before any
model is loaded, so a typo or a stopped simulator costs seconds, not a model load.

    result = train(load_train_config("configs/cpu-tiny.yaml"), conn=redis_conn)
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from zerosearch.common.errors import ConfigError, SearchBackendError
from zerosearch.common.queue import report_progress
from zerosearch.common.search.base import SearchBackend, run_sync
from zerosearch.common.trajectory import QAItem, RolloutConfig
from zerosearch.trainer.algorithms import algorithm_settings
from zerosearch.trainer.callbacks import (
    EvalCallback,
    EvalEnqueuer,
    MetricsCallback,
    ProgressHook,
    eval_payload,
)
from zerosearch.trainer.config import TrainConfig
from zerosearch.trainer.reward import make_reward_function
from zerosearch.trainer.rollout import SearchRollout
from zerosearch.trainer.run_dir import RunDir, checkpoint_step

__all__ = [
    "build_grpo_args",
    "connect_simulator",
    "load_training_items",
    "rollout_settings",
    "train",
    "transformers_policy",
]

log = logging.getLogger(__name__)


def load_training_items(config: TrainConfig) -> list[QAItem]:
    """The training questions: every dataset, one item per distinct question (golds merged), then limit."""
    from zerosearch.common.datasets import load_benchmark
    from zerosearch.common.settings import get_common_settings

    data_dir = (
        config.data_dir or get_common_settings().data_dir
    )  # ZEROSEARCH_DATA_DIR or the repository's data/
    merged: dict[str, QAItem] = {}
    for spec in config.datasets:
        for item in load_benchmark(spec, data_dir=data_dir, seed=config.seed):
            # TRL hands the rollout prompts only, so a question text must map to one item.
            key = item.question.strip()
            if key in merged:
                golds = list(dict.fromkeys([*merged[key].golden_answers, *item.golden_answers]))
                merged[key] = merged[key].model_copy(update={"golden_answers": golds})
            else:
                merged[key] = item.model_copy(update={"question": key})
    items = [item for item in merged.values() if item.golden_answers]
    if config.train_limit is not None:
        items = items[: config.train_limit]
    if len(items) < config.prompts_per_step:
        raise ConfigError(
            f"datasets give {len(items)} usable questions, fewer than prompts_per_step={config.prompts_per_step}",
            param="datasets",
        )
    return items


def connect_simulator(config: TrainConfig) -> SearchBackend:
    """The simulator backend, checked reachable now: fail fast, with the URL, before any model loads."""
    from zerosearch.common.search.factory import make_backend

    backend = make_backend("simulator", url=config.simulator_url, **config.search_retry.model_dump())
    try:
        run_sync(backend.check())
    except SearchBackendError as exc:
        raise SearchBackendError(
            f"simulator unreachable at {config.simulator_url}: {exc.message} "
            "(start it with `zerosearch simulator serve` or fix simulator_url)"
        ) from exc
    return backend


def rollout_settings(config: TrainConfig) -> RolloutConfig:
    """Agent-loop settings of the training rollouts (noise is set per step by the curriculum)."""
    return RolloutConfig(
        method="agent",
        max_turns=config.max_turns,
        max_new_tokens=config.max_new_tokens,
        max_completion_tokens=config.max_completion_length,
        temperature=config.temperature,
        top_p=config.top_p,
        top_k=config.top_k,
        send_question=True,  # the simulator sees the trajectory's own question and first gold answer
        send_answer=True,
        seed=None,  # each rollout of a group must sample differently; TRL seeds the global RNG
    )


def build_grpo_args(config: TrainConfig, run_dir: RunDir) -> Any:
    """TRL's GRPOConfig for this run (the algorithm's settings on top)."""
    from trl import GRPOConfig

    rollouts = config.rollouts_per_step
    micro = config.micro_batch_size or rollouts
    return GRPOConfig(
        output_dir=str(run_dir.root),
        max_steps=config.steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type="constant",  # the paper's actor lr is constant
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=rollouts // micro,  # one generation of `rollouts` per optimizer step
        num_generations=config.num_generations,
        max_completion_length=config.max_completion_length,
        temperature=config.temperature,
        top_p=config.top_p,
        beta=config.beta,
        epsilon=config.epsilon,
        logging_steps=1,
        save_strategy="steps",
        save_steps=config.checkpoint_interval,
        save_only_model=False,  # optimizer, scheduler and RNG state make a resume exact
        seed=config.seed,
        report_to="none",
        disable_tqdm=True,
        bf16=config.bf16,
        gradient_checkpointing=config.gradient_checkpointing,
        use_vllm=config.use_vllm,
        vllm_mode="colocate",
        vllm_gpu_memory_utilization=config.vllm_gpu_memory_utilization,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        **algorithm_settings(config.algorithm),
    )


def transformers_policy(trainer: Any) -> Any:
    """The policy that generates rollouts: the live training model (vLLM when the trainer runs it)."""
    if getattr(trainer, "use_vllm", False):
        from zerosearch.trainer.vllm_policy import VLLMTrainerPolicy

        return VLLMTrainerPolicy(trainer)
    from zerosearch.common.policies.transformers import TransformersPolicy

    model = trainer.accelerator.unwrap_model(trainer.model)
    # TRL recomputes logprobs itself without vLLM; skipping them saves the per-step logits.
    return TransformersPolicy(model, trainer.processing_class, return_logprobs=False)


def _snapshot(config: TrainConfig) -> dict[str, Any]:
    return config.model_dump(mode="json")


def _trainer(
    config: TrainConfig, model_path: str, items: list[QAItem], rollout: SearchRollout, run_dir: RunDir
):  # type: ignore[no-untyped-def]
    from datasets import Dataset
    from trl import GRPOTrainer

    from zerosearch.common.models import load_tokenizer

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is experimental in TRL 1.16
    tokenizer = load_tokenizer(model_path)
    dataset = Dataset.from_list([{"prompt": item.question} for item in items])
    return GRPOTrainer(
        model=model_path,
        reward_funcs=[make_reward_function(config.reward)],
        args=build_grpo_args(config, run_dir),
        train_dataset=dataset,
        processing_class=tokenizer,
        rollout_func=rollout,
    )


def train(
    config: TrainConfig,
    *,
    conn: Any = None,
    on_progress: ProgressHook | None = None,
    backend: SearchBackend | None = None,
) -> dict[str, Any]:
    """Run (or resume) one training run; returns a JSON-safe summary.

    ``backend`` replaces the simulator client (another engine behind the SearchBackend interface).
    """
    from zerosearch.evaluator.config import build_eval_config

    run_dir = RunDir(Path(config.output_dir))
    if config.eval.enabled:  # a bad eval setting fails now, not after hours of training
        build_eval_config(
            eval_payload(config.eval, run_dir.final_dir, run_dir.eval_dir("final"), config.data_dir)
        )
    items = load_training_items(config)
    backend = backend or connect_simulator(config)
    lock = run_dir.lock()
    try:
        return _train_locked(config, run_dir, items, backend, conn, on_progress)
    finally:
        lock.release()


def _train_locked(
    config: TrainConfig,
    run_dir: RunDir,
    items: list[QAItem],
    backend: SearchBackend,
    conn: Any,
    on_progress: ProgressHook | None,
) -> dict[str, Any]:
    from zerosearch.common.models import resolve_model

    resume_from = run_dir.prepare(_snapshot(config), resume=config.resume)
    enqueuer = EvalEnqueuer(conn, config.eval, run_dir, config.data_dir)
    if (
        resume_from is not None
        and (checkpoint_step(resume_from) or 0) >= config.steps
        and (run_dir.final_dir / "config.json").is_file()
    ):
        log.info("run %s is already complete", run_dir.root)
        return _summary(config, run_dir, enqueuer, resumed_from=resume_from)
    model_path = resolve_model(config.model)
    if config.cold_start.enabled:
        from zerosearch.trainer.cold_start import run_cold_start

        report_progress(state="cold_start")
        model_path = run_cold_start(config, run_dir, items)
    if resume_from is not None:
        run_dir.trim_metrics(checkpoint_step(resume_from) or 0)
    rollout = SearchRollout(
        items, backend, rollout_settings(config), config.curriculum_schedule(), transformers_policy
    )
    trainer = _trainer(config, str(model_path), items, rollout, run_dir)
    trainer.add_callback(MetricsCallback(run_dir, rollout, total_steps=config.steps, on_progress=on_progress))
    trainer.add_callback(EvalCallback(enqueuer))
    log.info(
        "training %s for %d steps (%s)",
        config.model,
        config.steps,
        f"resuming {resume_from.name}" if resume_from else "fresh",
    )
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    staging = run_dir.final_dir.with_name("final.partial")
    shutil.rmtree(staging, ignore_errors=True)  # a save cut short by a kill
    trainer.save_model(str(staging))
    trainer.processing_class.save_pretrained(str(staging))
    os.replace(staging, run_dir.final_dir)  # "final" appears complete or not at all
    enqueuer(run_dir.final_dir, "final")
    run_sync(backend.aclose())
    from zerosearch.trainer.plots import write_plots

    write_plots(run_dir)
    return _summary(config, run_dir, enqueuer, resumed_from=resume_from)


def _summary(
    config: TrainConfig, run_dir: RunDir, enqueuer: EvalEnqueuer, *, resumed_from: Path | None
) -> dict:
    metrics = run_dir.read_metrics()
    return {
        "run_dir": str(run_dir.root),
        "steps": metrics[-1]["step"] if metrics else 0,
        "total_steps": config.steps,
        "resumed_from": resumed_from.name if resumed_from else None,
        "checkpoints": [p.name for p in run_dir.checkpoints()],
        "final_model": str(run_dir.final_dir),
        "eval_jobs": enqueuer.job_ids,
        "last": metrics[-1] if metrics else {},
    }
