"""The run config of a training job: one pydantic model, loaded from YAML, a dict (job payload) or Python.

Every field carries its help text; validation runs when the config is built and bad values raise a
:class:`~zerosearch.common.errors.ConfigError` naming the field and the allowed range.

    config = load_train_config("configs/cpu-tiny.yaml")
    config = TrainConfig.model_validate(payload)            # from an RQ job
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zerosearch.common.config_file import merge_config
from zerosearch.common.defaults import (
    CURRICULUM_BASE,
    CURRICULUM_P_END,
    CURRICULUM_P_START,
    MAX_TOP_K,
)
from zerosearch.common.errors import ConfigError
from zerosearch.common.search.factory import BackendOptions
from zerosearch.common.tracking import REPORT_TO_HELP, ReportTo
from zerosearch.common.trajectory import RolloutLimits
from zerosearch.trainer.algorithms import Algorithm, LossAggregation, algorithm_settings, parse_algorithm
from zerosearch.trainer.curriculum import Curriculum, CurriculumKind
from zerosearch.trainer.memory import LoraSettings

__all__ = [
    "LR_SCHEDULERS",
    "ColdStartConfig",
    "CurriculumConfig",
    "EvalAfterCheckpoint",
    "PoolConfig",
    "TrainConfig",
    "load_train_config",
    "parse_train_config",
]

_STRICT = ConfigDict(extra="forbid")

LR_SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine")
"""Learning-rate schedules (transformers' names); the reference warms up over 95% of steps, then constant."""


class CurriculumConfig(BaseModel):
    """The noise schedule (ZeroSearch, arXiv 2505.04588, curriculum rollout):
    p_i = p_s + (b^(i/m) − 1)/(b − 1)·(p_e − p_s)."""

    model_config = _STRICT

    kind: CurriculumKind = Field(
        default=CurriculumKind.EXPONENTIAL, description="exponential|linear|constant."
    )
    p_start: float = Field(default=CURRICULUM_P_START, ge=0.0, le=1.0, description="Noise p at step 1 (p_s).")
    p_end: float = Field(
        default=CURRICULUM_P_END, ge=0.0, le=1.0, description="Noise p at the last step (p_e)."
    )
    base: float = Field(default=CURRICULUM_BASE, gt=0.0, description="Base b of the exponential (≠ 1).")

    def build(self, total_steps: int) -> Curriculum:
        """The schedule over ``total_steps`` steps."""
        return Curriculum(self.kind, self.p_start, self.p_end, total_steps, self.base)


class ColdStartConfig(BaseModel):
    """Optional SFT on format demonstrations before GRPO (small policies never write <search> alone)."""

    model_config = _STRICT

    enabled: bool = Field(default=False, description="Run the cold-start SFT stage before GRPO.")
    examples: int = Field(
        default=64, ge=1, le=100_000, description="Demonstrations built from the train set."
    )
    answer_in_documents: bool = Field(
        default=False,
        description="Only questions whose documents contain a gold answer become demonstrations (all "
        "training questions are searched to find `examples` of them).",
    )
    datasets: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Questions of the demonstrations (names or files; default: the run's datasets), so "
        "GRPO can train on a small pool the cold start never showed.",
    )
    epochs: float = Field(default=1.0, gt=0.0, le=100.0, description="SFT epochs over the demonstrations.")
    learning_rate: float = Field(default=5e-5, gt=0.0, le=1.0, description="SFT learning rate.")
    batch_size: int = Field(default=8, ge=1, le=4096, description="SFT batch size.")
    search: Literal["bm25", "simulator"] = Field(
        default="bm25", description="Backend that supplies the demonstrations' documents."
    )
    corpus: Path | None = Field(
        default=None, description="Passage corpus for bm25 (default: <data_dir>/corpus/wiki_mini.jsonl)."
    )
    top_k: int = Field(default=3, ge=1, le=MAX_TOP_K, description="Documents in each demonstration.")
    max_length: int = Field(default=512, ge=32, le=32768, description="Longest demonstration in tokens.")


class PoolConfig(BaseModel):
    """Before GRPO, keep only questions the starting policy answers sometimes but not always
    (zerosearch.trainer.pool): a group whose rollouts all score the same gives no gradient."""

    model_config = _STRICT

    enabled: bool = Field(default=False, description="Probe the starting policy and train on its pool.")
    candidates: int = Field(
        default=24, ge=1, le=100_000, description="Training questions probed (the first N)."
    )
    samples: int = Field(default=4, ge=2, le=64, description="Sampled rollouts per probed question.")
    size: int = Field(
        default=4,
        ge=1,
        le=100_000,
        description="Questions kept: the first with min_pass_rate < mean reward < max_pass_rate.",
    )
    search: Literal["bm25", "training"] = Field(
        default="bm25",
        description="Engine of the probe: bm25 over the local corpus (arms that train against different "
        "engines then share one pool) or the run's own search.",
    )
    min_pass_rate: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Keep questions whose pass rate is above this (0: answered once).",
    )
    max_pass_rate: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="Keep questions whose pass rate is below this (1: not always answered). Lower it to leave "
        "room to learn: a question answered 9 times in 10 cannot rise much, least of all under a curriculum "
        "that makes more searches noisy as training goes on.",
    )

    @model_validator(mode="after")
    def _band(self) -> PoolConfig:
        if self.min_pass_rate >= self.max_pass_rate:
            raise ValueError(
                f"pool.min_pass_rate ({self.min_pass_rate}) must be below pool.max_pass_rate "
                f"({self.max_pass_rate}): questions are kept when min < pass rate < max"
            )
        return self


class EvalAfterCheckpoint(BaseModel):
    """The ``eval`` job enqueued for every checkpoint and the final model.

    Its ``rollout`` limits are the run's ``rollout:`` block unless set here: a checkpoint is evaluated
    under the turns, tokens and top-k it was trained with (the paper evaluates with the training limits).
    """

    model_config = _STRICT

    enabled: bool = Field(default=True, description="Enqueue an eval job per checkpoint and the final model.")
    datasets: list[str] = Field(default_factory=lambda: ["nq"], min_length=1, description="Benchmarks.")
    limit: int | None = Field(default=50, ge=1, description="Questions per benchmark (None: all).")
    search: str = Field(default="bm25", description="Search backend at evaluation (a real engine).")
    rollout: dict[str, Any] = Field(
        default_factory=dict,
        description="Rollout limits of the eval jobs (RolloutLimits fields); unset ones inherit the run's.",
    )
    extra: dict[str, Any] = Field(default_factory=dict, description="More evaluator EvalConfig fields.")

    @model_validator(mode="before")
    @classmethod
    def _fold_limits(cls, data: Any) -> Any:
        # Limits written flat (``max_turns: 1``) or under ``extra`` are overrides of the same block.
        if isinstance(data, dict) and isinstance(data.get("extra"), dict):
            limits = set(RolloutLimits.model_fields)
            moved = {k: v for k, v in data["extra"].items() if k in limits}
            if moved:
                data = {**data, "extra": {k: v for k, v in data["extra"].items() if k not in limits}}
                data = {**moved, **data}
        return RolloutLimits.fold(data)


def _training_search_retry() -> BackendOptions:
    # Longer than a search client's defaults: 5 attempts, waiting 1+2+4+8 s, outlast a simulator restart.
    return BackendOptions(timeout_s=120.0, retries=5, backoff_s=1.0)


class TrainConfig(BaseModel):
    """One training run: policy, simulator, data, algorithm, curriculum, reward, checkpoints."""

    model_config = _STRICT

    model: str = Field(min_length=1, description="Policy: bundled alias, HF folder, .gguf or hub id.")
    simulator_url: str = Field(min_length=1, description="Base URL of the simulator service.")
    datasets: list[str] = Field(
        min_length=1, description="Training QA sets: names under <data_dir>/qa or paths."
    )
    data_dir: Path | None = Field(
        default=None,
        description="Folder with qa/*.jsonl (default: ZEROSEARCH_DATA_DIR or the repository's data/).",
    )
    train_limit: int | None = Field(default=None, ge=1, description="Use only the first N questions.")
    eval_overlap: Literal["refuse", "drop"] = Field(
        default="refuse",
        description="Training questions also in an evaluation set: refuse the run, or drop them (logged).",
    )
    algorithm: Algorithm = Field(
        default=Algorithm.GRPO, description=f"One of {', '.join(a.value for a in Algorithm)} (README table)."
    )
    loss_aggregation: LossAggregation | None = Field(
        default=None,
        description="sequence_mean | token_mean (the reference's) | constant; default: the algorithm's.",
    )
    num_generations: int = Field(default=5, description="Group size: rollouts per question (≥ 2).")
    prompts_per_step: int = Field(default=8, ge=1, le=100_000, description="Questions per optimizer step.")
    micro_batch_size: int | None = Field(
        default=None, ge=1, description="Rollouts per forward/backward pass (default: the whole step)."
    )
    learning_rate: float = Field(default=1e-6, gt=0.0, le=1.0, description="Actor learning rate.")
    lr_scheduler: Literal["constant", "constant_with_warmup", "linear", "cosine"] = Field(
        default="constant",
        description="Learning-rate schedule (the reference: constant_with_warmup over 95% of the steps).",
    )
    warmup_ratio: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Share of the steps warming the learning rate up from 0."
    )
    entropy_coef: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Entropy bonus coefficient (TRL's; the reference: 0.001)."
    )
    steps: int = Field(default=203, description="Total optimizer steps m (≥ 1).")
    beta: float = Field(default=0.001, ge=0.0, le=10.0, description="KL coefficient (TRL's beta and sign).")
    epsilon: float | None = Field(
        default=None, gt=0.0, le=1.0, description="PPO-style clip range; default: the algorithm's (0.2)."
    )
    temperature: float = Field(default=1.0, gt=0.0, le=5.0, description="Rollout sampling temperature.")
    top_p: float = Field(default=0.95, gt=0.0, le=1.0, description="Rollout nucleus sampling.")
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig, description="Noise schedule.")
    rollout: RolloutLimits = Field(
        default_factory=RolloutLimits,
        description="Agent-loop limits (max_turns, max_new_tokens, max_completion_tokens, top_k); "
        "the auto-eval jobs inherit them.",
    )
    reward: Literal["f1", "em"] = Field(default="f1", description="Answer reward: token F1 or strict EM.")
    search: Literal["simulator", "bm25"] = Field(
        default="simulator",
        description="Search engine of the training rollouts: the simulator (curriculum noise) or bm25 over "
        "<data_dir>/corpus/wiki_mini.jsonl (a real engine: no noise, the paper's comparison arm).",
    )
    shared_documents: Literal["none", "step", "run"] = Field(
        default="none",
        description="Rollouts that send the same query for the same question get the same simulated "
        "documents (one simulator call per set), so a group's rewards differ by what the policy did: "
        "'step' within a step (new documents each step); 'run' for the whole run, like a real engine: one "
        "useful and one noisy set per query, each search call drawing its set with the curriculum's p (the "
        "rollouts of a group draw apart, anew each step). 'none': every search fresh, as the paper.",
    )
    search_retry: BackendOptions = Field(
        default_factory=_training_search_retry,
        description="Simulator client timeout_s/retries/backoff_s (a restart takes ~10 s on CPU).",
    )
    cold_start: ColdStartConfig = Field(default_factory=ColdStartConfig, description="Cold-start SFT.")
    pool: PoolConfig = Field(default_factory=PoolConfig, description="GRPO's learnable question pool.")
    output_dir: Path = Field(description="Run folder: checkpoints, metrics.jsonl, plots, final model.")
    checkpoint_interval: int = Field(default=50, ge=1, description="Save a checkpoint every N steps.")
    seed: int = Field(default=42, ge=0, description="Seed for data order, sampling and simulator draws.")
    resume: Literal["auto", "never"] = Field(
        default="auto", description="auto: continue from the latest checkpoint; never: refuse a used folder."
    )
    eval: EvalAfterCheckpoint = Field(default_factory=EvalAfterCheckpoint, description="Eval per checkpoint.")
    use_vllm: bool = Field(default=False, description="Generate rollouts with TRL's vLLM integration (GPU).")
    vllm_gpu_memory_utilization: float = Field(default=0.3, gt=0.0, le=1.0, description="vLLM memory share.")
    gradient_checkpointing: bool = Field(default=False, description="Trade compute for memory.")
    bf16: bool = Field(default=False, description="bfloat16 training (GPU).")
    report_to: ReportTo = Field(default="auto", description=REPORT_TO_HELP)
    # Scale-out and memory (docs/scaling.md).
    processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Ranks the job starts on its machine (1: in-process; under torchrun the launcher's count rules).",
    )
    accelerate_config: Path | None = Field(
        default=None,
        description="accelerate config the ranks start with (configs/accelerate/: DeepSpeed, FSDP); default: torchrun, DDP.",
    )
    vllm_mode: Literal["colocate", "server"] = Field(
        default="colocate",
        description="colocate: vLLM inside each rank; server: `trl vllm-serve` on its own GPUs.",
    )
    vllm_server_url: str | None = Field(
        default=None, description="Base URL of `trl vllm-serve` (vllm_mode: server), e.g. http://vllm:8001."
    )
    lora: LoraSettings = Field(default_factory=LoraSettings, description="Train LoRA adapters (PEFT).")

    @model_validator(mode="before")
    @classmethod
    def _fold_limits(cls, data: Any) -> Any:
        # Flat limits (job payloads, older configs) are the same block; TRL's name for the budget is kept.
        return RolloutLimits.fold(data, {"max_completion_length": "max_completion_tokens"})

    @field_validator("algorithm", mode="before")
    @classmethod
    def _known_algorithm(cls, value: object) -> Algorithm:
        try:
            return parse_algorithm(str(value))
        except ConfigError as exc:  # pydantic collects ValueErrors only: re-raise as one, message kept
            raise ValueError(exc.message) from None

    @field_validator("num_generations")
    @classmethod
    def _group_size(cls, value: int) -> int:
        # One rollout a group has no baseline: every advantage would be 0.
        if value < 2 or value > 1024:
            raise ValueError(f"num_generations (group size) must be in [2, 1024], got {value}")
        return value

    @field_validator("steps")
    @classmethod
    def _positive_steps(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(f"steps must be ≥ 1, got {value}")
        return value

    @field_validator("simulator_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"simulator_url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.curriculum.kind is CurriculumKind.EXPONENTIAL and self.curriculum.base == 1.0:
            raise ValueError("curriculum.base must be ≠ 1 for the exponential curriculum")
        if self.search == "bm25" and max(self.curriculum.p_start, self.curriculum.p_end) > 0.0:
            raise ValueError(
                "search: bm25 has no noisy mode; set curriculum: {kind: constant, p_end: 0.0} (noise needs "
                "search: simulator)"
            )
        try:
            self.trl_settings()
        except ConfigError as exc:
            raise ValueError(exc.message) from None
        try:  # the eval jobs' limits: the run's block, with the eval section's overrides on top
            merged = RolloutLimits.model_validate({**self.rollout.model_dump(), **self.eval.rollout})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"eval.rollout.{where}: {first['msg']}") from None
        self.eval.rollout = merged.model_dump()
        rollouts = self.rollouts_per_step
        micro = self.micro_batch_size or rollouts
        if rollouts % micro or micro % self.num_generations:
            raise ValueError(
                f"micro_batch_size ({micro}) must divide prompts_per_step × num_generations ({rollouts}) "
                f"and be a multiple of num_generations ({self.num_generations})"
            )
        if self.vllm_mode == "server" and not (self.use_vllm and self.vllm_server_url):
            raise ValueError(
                "vllm_mode: server needs use_vllm: true and vllm_server_url (the `trl vllm-serve` URL)"
            )
        return self

    @property
    def rollouts_per_step(self) -> int:
        """Rollouts in one optimizer step (questions × group size)."""
        return self.prompts_per_step * self.num_generations

    def trl_settings(self) -> dict[str, Any]:
        """The algorithm's GRPOConfig overrides with this run's loss aggregation and clip range."""
        return algorithm_settings(
            self.algorithm, loss_aggregation=self.loss_aggregation, epsilon=self.epsilon
        )

    def curriculum_schedule(self) -> Curriculum:
        """The noise schedule over this run's steps."""
        return self.curriculum.build(self.steps)


def parse_train_config(data: dict[str, Any], source: str = "config") -> TrainConfig:
    """Validate a mapping (a job payload, a parsed YAML file) into a TrainConfig, or a ConfigError."""
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError.from_validation(exc, source) from exc


def load_train_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """Read a YAML run config (``overrides`` replace top-level keys) and validate it."""
    return parse_train_config(merge_config(path, overrides), source=Path(path).name)
