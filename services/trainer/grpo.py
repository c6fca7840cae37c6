"""GRPO training with simulated-search rollouts: dataset → config → trainer → train → save → eval jobs.

Order matters for failing fast: the config, the eval settings and the simulator are checked before any
model is loaded, so a typo or a stopped simulator costs seconds, not a model load.

    result = train(load_train_config("configs/cpu-tiny.yaml"), conn=redis_conn)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from zerosearch.common.errors import ConfigError, SearchBackendError
from zerosearch.common.io import default_corpus
from zerosearch.common.models import load_tokenizer, resolve_model
from zerosearch.common.policies.transformers import TransformersPolicy
from zerosearch.common.queue import report_progress
from zerosearch.common.search.base import SearchBackend, run_sync
from zerosearch.common.search.factory import make_backend
from zerosearch.common.settings import get_common_settings
from zerosearch.common.tracking import TENSORBOARD_DIR, report_targets
from zerosearch.common.trajectory import QAItem, RolloutConfig
from zerosearch.evaluator.config import build_eval_config
from zerosearch.trainer.callbacks import (
    EvalCallback,
    EvalEnqueuer,
    MetricsCallback,
    ProgressHook,
    eval_payload,
)
from zerosearch.trainer.cold_start import run_cold_start
from zerosearch.trainer.config import TrainConfig
from zerosearch.trainer.data import check_disjoint, cold_start_items, load_training_items
from zerosearch.trainer.distributed import batch_split, current_ranks, is_main_process
from zerosearch.trainer.launch import launch_ranks, needs_launch
from zerosearch.trainer.memory import peft_config
from zerosearch.trainer.plots import write_plots
from zerosearch.trainer.pool import learnable_pool
from zerosearch.trainer.ranked import RanksCallback, publish_model
from zerosearch.trainer.reward import make_reward_function
from zerosearch.trainer.rollout import SearchRollout
from zerosearch.trainer.run_dir import RunDir, checkpoint_step
from zerosearch.trainer.vllm_policy import VLLMTrainerPolicy
from zerosearch.trainer.vllm_server import VLLMServerPolicy

__all__ = [
    "build_grpo_args",
    "connect_simulator",
    "load_training_items",
    "rollout_settings",
    "train",
    "training_backend",
    "transformers_policy",
]

log = logging.getLogger(__name__)


def connect_simulator(config: TrainConfig) -> SearchBackend:
    """The simulator backend, checked reachable now: fail fast, with the URL, before any model loads."""
    backend = make_backend("simulator", url=config.simulator_url, **config.search_retry.model_dump())
    try:
        run_sync(backend.check())
    except SearchBackendError as exc:
        raise SearchBackendError(
            f"simulator unreachable at {config.simulator_url}: {exc.message} "
            "(start it with `zerosearch simulator serve` or fix simulator_url)"
        ) from exc
    return backend


def training_backend(config: TrainConfig) -> SearchBackend:
    """The rollouts' search engine: the simulator (checked reachable), or bm25 over the local corpus."""
    if config.search == "bm25":
        data_dir = config.data_dir or get_common_settings().data_dir
        if data_dir is None:
            raise ConfigError(
                "search: bm25 needs a corpus: set data_dir or ZEROSEARCH_DATA_DIR", param="search"
            )
        return make_backend("bm25", corpus=default_corpus(data_dir), **config.search_retry.model_dump())
    return connect_simulator(config)


def rollout_settings(config: TrainConfig) -> RolloutConfig:
    """Agent-loop settings of the training rollouts (noise is set per step by the curriculum)."""
    return RolloutConfig(
        **config.rollout.model_dump(),  # the run's rollout block: turns, tokens, budget, top-k
        method="agent",
        temperature=config.temperature,
        top_p=config.top_p,
        send_question=True,  # the simulator sees the trajectory's own question and first gold answer
        send_answer=True,
        seed=None,  # each rollout of a group must sample differently; TRL seeds the global RNG
        # Searches seeded by query; with shared_documents "step" the rollout adds the step to the seed.
        documents_seed=None if config.shared_documents == "none" else config.seed,
    )


def build_grpo_args(config: TrainConfig, run_dir: RunDir) -> Any:
    """TRL's GRPOConfig for this run (the algorithm's settings on top)."""
    # Heavy dependency (TRL): imported on use, so importing this module stays light.
    from trl import GRPOConfig

    # Each rank generates and back-propagates its share of the step's rollouts (docs/scaling.md).
    micro, accumulation = batch_split(
        config.rollouts_per_step, config.micro_batch_size, current_ranks().world_size
    )
    return GRPOConfig(
        output_dir=str(run_dir.root),
        max_steps=config.steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        # transformers 5 reads a warmup_steps below 1 as a share of the steps (its warmup_ratio is gone).
        warmup_steps=config.warmup_ratio,  # the reference: constant_with_warmup over 95% of the steps
        entropy_coef=config.entropy_coef,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation,  # one generation of all rollouts per optimizer step
        num_generations=config.num_generations,
        max_completion_length=config.rollout.max_completion_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
        beta=config.beta,
        logging_steps=1,
        save_strategy="steps",
        save_steps=config.checkpoint_interval,
        save_only_model=False,  # optimizer, scheduler and RNG state make a resume exact
        seed=config.seed,
        report_to=report_targets(config.report_to, run_dir.root / TENSORBOARD_DIR),
        disable_tqdm=True,
        bf16=config.bf16,
        gradient_checkpointing=config.gradient_checkpointing,
        use_vllm=config.use_vllm,
        vllm_mode=config.vllm_mode,
        vllm_server_base_url=config.vllm_server_url if config.vllm_mode == "server" else None,
        vllm_gpu_memory_utilization=config.vllm_gpu_memory_utilization,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        **config.trl_settings(),  # loss type, reward scaling, clip range of the algorithm
    )


def transformers_policy(trainer: Any) -> Any:
    """The policy that generates rollouts: the live training model (vLLM when the trainer runs it)."""
    if getattr(trainer, "use_vllm", False):
        if getattr(trainer, "vllm_mode", "colocate") == "server":
            return VLLMServerPolicy.from_trainer(trainer)
        return VLLMTrainerPolicy(trainer)

    model = trainer.accelerator.unwrap_model(trainer.model)
    # TRL recomputes logprobs itself without vLLM; skipping them saves the per-step logits.
    return TransformersPolicy(model, trainer.processing_class, return_logprobs=False)


def _probe_policy(model_path: str) -> TransformersPolicy:
    """The model GRPO starts from, as a sampling policy for the pool's probe (no logprobs needed)."""
    policy = TransformersPolicy.from_pretrained(model_path)
    policy.return_logprobs = False
    return policy


def _snapshot(config: TrainConfig) -> dict[str, Any]:
    return config.model_dump(mode="json")


def _trainer(
    config: TrainConfig, model_path: str, items: list[QAItem], rollout: SearchRollout, run_dir: RunDir
):  # type: ignore[no-untyped-def]
    # Heavy dependency (datasets): imported on use, so importing this module stays light.
    from datasets import Dataset

    from zerosearch.trainer.trl_trainer import trainer_class  # imports torch and TRL: only when training

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is experimental in TRL 1.16
    tokenizer = load_tokenizer(model_path)
    dataset = Dataset.from_list([{"prompt": item.question} for item in items])
    return trainer_class(config.algorithm)(
        model=model_path,
        reward_funcs=[make_reward_function(config.reward)],
        args=build_grpo_args(config, run_dir),
        train_dataset=dataset,
        processing_class=tokenizer,
        rollout_func=rollout,
        peft_config=peft_config(config.lora),
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

    if needs_launch(config):  # processes > 1 and no launcher around: start the ranks as children
        if backend is not None:
            raise ConfigError("a custom search backend cannot cross into launched ranks", param="processes")
        return launch_ranks(config, conn=conn, on_progress=on_progress)
    run_dir = RunDir(Path(config.output_dir))
    if config.eval.enabled:  # a bad eval setting fails now, not after hours of training
        build_eval_config(
            eval_payload(config.eval, run_dir.final_dir, run_dir.eval_dir("final"), config.data_dir)
        )
    items = load_training_items(config)
    items = check_disjoint(items, config)  # never train on an evaluation question (before simulator, model)
    demonstrations = cold_start_items(config, items)
    backend = backend or training_backend(config)
    lock = run_dir.lock()
    try:
        return _train_locked(config, run_dir, (items, demonstrations), backend, conn, on_progress)
    finally:
        lock.release()


def _train_locked(
    config: TrainConfig,
    run_dir: RunDir,
    questions: tuple[list[QAItem], list[QAItem]],
    backend: SearchBackend,
    conn: Any,
    on_progress: ProgressHook | None,
) -> dict[str, Any]:
    items, demonstrations = questions  # GRPO's questions, the cold start's

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
        report_progress(state="cold_start")
        model_path = run_cold_start(config, run_dir, demonstrations)
    if config.pool.enabled:  # before GRPO: keep the questions the starting policy answers only sometimes
        report_progress(state="pool")
        start = str(model_path)
        probe_backend = (  # bm25: arms that train against different engines get one pool
            training_backend(config.model_copy(update={"search": "bm25"}))
            if config.pool.search == "bm25"
            else backend
        )
        items = learnable_pool(
            config, run_dir, lambda: _probe_policy(start), items, probe_backend, rollout_settings(config)
        )
    if resume_from is not None:
        run_dir.trim_metrics(checkpoint_step(resume_from) or 0)
    rollout = SearchRollout(
        items, backend, rollout_settings(config), config.curriculum_schedule(), transformers_policy,
        documents_each_step=config.shared_documents == "step", reward=config.reward,
    )  # fmt: skip
    trainer = _trainer(config, str(model_path), items, rollout, run_dir)
    trainer.add_callback(MetricsCallback(run_dir, rollout, total_steps=config.steps, on_progress=on_progress))
    trainer.add_callback(EvalCallback(enqueuer))
    trainer.add_callback(RanksCallback(run_dir, rollout))  # ranks' stats merged; ranks.json (rank 0)
    log.info(
        "training %s for %d steps (%s)",
        config.model,
        config.steps,
        f"resuming {resume_from.name}" if resume_from else "fresh",
    )
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    publish_model(trainer, trainer.processing_class, run_dir.final_dir)  # complete or absent; rank 0 writes
    enqueuer(run_dir.final_dir, "final")
    run_sync(backend.aclose())

    if is_main_process():
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
