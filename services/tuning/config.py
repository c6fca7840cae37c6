"""Run configs of simulation tuning: one typed model per stage, and the pipeline that chains them.

Every field carries its help text, so the same object comes from Python, CLI flags, a YAML file or an RQ
job payload. Bad values raise a :class:`~zerosearch.common.errors.ConfigError` naming the field.

    collect = CollectConfig(questions="nq", limit=200, output=Path("runs/sft/collected.jsonl"))
    pipeline = load_sft_config("configs/sft-cpu-tiny.yaml")
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from zerosearch.common.config_file import read_config_file
from zerosearch.common.defaults import BUNDLED_MODEL_ALIAS, DEFAULT_TOP_K, MAX_TOP_K
from zerosearch.common.errors import ConfigError
from zerosearch.common.search.protocol import Usefulness
from zerosearch.common.tracking import REPORT_TO_HELP, ReportTo
from zerosearch.common.trajectory import RolloutLimits

__all__ = [
    "BuildConfig",
    "CollectConfig",
    "FidelityConfig",
    "Label",
    "LabelConfig",
    "LabelRule",
    "SFTPipelineConfig",
    "SFTTrainConfig",
    "load_sft_config",
    "parse_sft_config",
]

_STRICT = ConfigDict(extra="forbid")


Label = Usefulness
"""A document's label: it helps answer the question (useful) or it does not (noisy); the protocol's enum."""


class LabelRule(enum.StrEnum):
    """How documents are labelled (ZeroSearch, arXiv 2505.04588, simulation tuning: its v1 is
    ``trajectory``, its v2 ``judge``)."""

    ANSWER = "answer"
    TRAJECTORY = "trajectory"
    JUDGE = "judge"


class CollectConfig(BaseModel):
    """Stage 1: run a policy with the agent loop against a real backend and keep every search."""

    model_config = _STRICT

    questions: str = Field(default="nq", description="Training questions: a benchmark name or a QA file.")
    limit: int | None = Field(default=64, ge=1, description="How many questions (seeded sample); None: all.")
    seed: int = Field(default=0, description="Seed of the question sample and of policy sampling.")
    policy: str = Field(default=BUNDLED_MODEL_ALIAS, description="Policy model: alias, folder or hub id.")
    method: Literal["agent", "rag"] = Field(
        default="agent",
        description="agent: the policy decides its searches; rag: one search with the question "
        "(use it with a policy that never writes <search>, such as the untrained bundled model).",
    )
    backend: Literal["bm25", "retrieval", "serpapi", "serper", "tavily", "brave"] = Field(
        default="bm25", description="The REAL search engine whose documents are collected."
    )
    corpus: Path | None = Field(
        default=None,
        description="Passage corpus (JSONL) for bm25; default <data_dir>/corpus/wiki_mini.jsonl.",
    )
    backend_url: str | None = Field(default=None, description="Search-R1 retrieval URL (backend retrieval).")
    rollout: RolloutLimits = Field(
        default_factory=lambda: RolloutLimits(max_new_tokens=128),
        description="Agent-loop limits (max_turns, max_new_tokens, max_completion_tokens, top_k): the "
        "trainer's and evaluator's rollout model; flat keys fold into it.",
    )
    temperature: float = Field(default=1.0, ge=0.0, le=2.0, description="Policy sampling temperature.")
    batch_size: int = Field(
        default=8, ge=1, le=1024, description="Questions per agent-loop batch; each batch is saved at once."
    )
    output: Path = Field(default=Path("runs/sft/collected.jsonl"), description="JSONL file to append to.")

    @model_validator(mode="before")
    @classmethod
    def _fold_limits(cls, data: Any) -> Any:
        return RolloutLimits.fold(data)  # flags and payloads may give top_k, max_turns, … flat


class LabelConfig(BaseModel):
    """Stage 2: label every collected document useful or noisy."""

    model_config = _STRICT

    input: Path = Field(default=Path("runs/sft/collected.jsonl"), description="Collected JSONL.")
    output: Path = Field(default=Path("runs/sft/labeled.jsonl"), description="Labelled JSONL (rewritten).")
    rule: LabelRule = Field(default=LabelRule.ANSWER, description="answer | trajectory | judge.")
    correct_metric: Literal["em", "cover_em"] = Field(
        default="em", description="trajectory rule: what makes a trajectory correct (strict or cover EM)."
    )
    judge_url: str | None = Field(
        default=None,
        description="judge rule: base URL of an OpenAI-compatible server (…/v1); unset: a local model.",
    )
    judge_model: str = Field(
        default=BUNDLED_MODEL_ALIAS, description="judge rule: model name at the endpoint, or a local model."
    )
    judge_api_key: str | None = Field(default=None, description="judge rule: bearer token for the endpoint.")
    judge_timeout_s: float = Field(default=60.0, gt=0.0, le=3600.0, description="Seconds per judge request.")
    judge_concurrency: int = Field(default=4, ge=1, le=256, description="Judge requests in flight.")


class BuildConfig(BaseModel):
    """Stage 3: SFT examples in the simulator's fine-tuned prompt format, balanced, split train/valid."""

    model_config = _STRICT

    input: Path = Field(default=Path("runs/sft/labeled.jsonl"), description="Labelled JSONL.")
    output_dir: Path = Field(default=Path("runs/sft/data"), description="Writes train.jsonl, valid.jsonl.")
    valid_fraction: float = Field(default=0.1, ge=0.0, lt=1.0, description="Share of examples held out.")
    balance: bool = Field(default=True, description="Down-sample the larger label to the smaller's count.")
    max_doc_words: int = Field(
        default=30,
        ge=5,
        le=1000,
        description="Documents are cut to a snippet of this many words around the gold answer "
        "(the simulator is asked for ~30-word documents).",
    )
    max_examples: int | None = Field(default=None, ge=2, description="Cap on examples after balancing.")
    seed: int = Field(default=0, description="Seed of balancing and of the split.")


class SFTTrainConfig(BaseModel):
    """Stage 4: fine-tune the simulator with TRL's SFTTrainer, loss on the documents only."""

    model_config = _STRICT

    model: str = Field(
        default=BUNDLED_MODEL_ALIAS, description="Base simulator model: alias, folder, hub id."
    )
    data_dir: Path = Field(default=Path("runs/sft/data"), description="Folder with train.jsonl, valid.jsonl.")
    output_dir: Path = Field(default=Path("runs/sft/model"), description="Where the tuned HF folder goes.")
    method: Literal["full", "lora"] = Field(default="full", description="Full fine-tuning or LoRA (peft).")
    lora_r: int = Field(default=16, ge=1, le=1024, description="LoRA rank.")
    lora_alpha: int = Field(default=32, ge=1, le=4096, description="LoRA alpha.")
    lora_dropout: float = Field(default=0.05, ge=0.0, lt=1.0, description="LoRA dropout.")
    learning_rate: float = Field(
        default=1e-6, gt=0.0, le=1.0, description="Peak learning rate (paper: 1e-6)."
    )
    batch_size: int = Field(default=2, ge=1, le=4096, description="Examples per device step (paper: 2).")
    grad_accum: int = Field(default=1, ge=1, le=4096, description="Gradient accumulation steps.")
    max_steps: int = Field(default=1000, ge=1, le=10_000_000, description="Optimizer steps (paper: 1000).")
    max_length: int = Field(default=1024, ge=32, le=131072, description="Longest example in tokens.")
    warmup_ratio: float = Field(default=0.0, ge=0.0, lt=1.0, description="Share of steps warming up.")
    logging_steps: int = Field(default=10, ge=1, description="Log the loss every this many steps.")
    eval_steps: int | None = Field(
        default=None, ge=1, description="Evaluate on valid every N steps; None: end."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto: cuda when present.")
    gradient_checkpointing: bool = Field(default=False, description="Trade compute for memory.")
    seed: int = Field(default=0, description="Training seed.")
    report_to: ReportTo = Field(default="auto", description=REPORT_TO_HELP)


class SFTPipelineConfig(BaseModel):
    """Stages 1–4 as one job: every path is placed inside ``work_dir`` so stages hand over by file."""

    model_config = _STRICT

    work_dir: Path = Field(default=Path("runs/sft"), description="Folder for every stage's files.")
    collect: CollectConfig = Field(default_factory=CollectConfig)
    label: LabelConfig = Field(default_factory=LabelConfig)
    build: BuildConfig = Field(default_factory=BuildConfig)
    train: SFTTrainConfig = Field(default_factory=SFTTrainConfig)

    @model_validator(mode="after")
    def _chain_paths(self) -> SFTPipelineConfig:
        # Each stage reads what the previous one wrote; deriving the paths makes a mismatch impossible.
        root = self.work_dir
        self.collect.output = root / "collected.jsonl"
        self.label.input, self.label.output = root / "collected.jsonl", root / "labeled.jsonl"
        self.build.input, self.build.output_dir = root / "labeled.jsonl", root / "data"
        self.train.data_dir, self.train.output_dir = root / "data", root / "model"
        return self


class FidelityConfig(BaseModel):
    """The fidelity report: how a simulator's useful/noisy documents compare with a real engine's."""

    model_config = _STRICT

    simulator: str = Field(description="Base URL of a running simulator (http://host:port).")
    questions: str = Field(default="nq", description="Held-out questions: a benchmark name or a QA file.")
    limit: int | None = Field(default=32, ge=1, description="How many questions (seeded sample); None: all.")
    seed: int = Field(default=1, description="Seed of the question sample and of the simulator's sampling.")
    k: int = Field(default=DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description="Documents asked for per call.")
    backend: Literal["bm25", "retrieval", "serpapi", "serper", "tavily", "brave", "none"] = Field(
        default="bm25", description="Real engine of the reference row; none: no reference row."
    )
    corpus: Path | None = Field(default=None, description="Corpus for the bm25 reference row.")
    backend_url: str | None = Field(default=None, description="Retrieval URL for the reference row.")
    name: str = Field(default="simulator", min_length=1, max_length=80, description="Row name in the report.")
    output_dir: Path = Field(default=Path("runs/sft/fidelity"), description="Writes fidelity.md/.json/.png.")
    timeout_s: float = Field(default=300.0, gt=0.0, le=3600.0, description="Seconds per simulator call.")

    @model_validator(mode="after")
    def _check_url(self) -> FidelityConfig:
        if not self.simulator.startswith(("http://", "https://")):
            raise ValueError(f"simulator must be an http(s):// URL, got {self.simulator!r}")
        return self


def parse_sft_config(data: dict[str, Any], source: str = "sft config") -> SFTPipelineConfig:
    """Validate a mapping (job payload, parsed YAML) into the pipeline config, or raise ConfigError."""
    try:
        return SFTPipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError.from_validation(exc, source) from exc


def load_sft_config(path: str | Path) -> SFTPipelineConfig:
    """Read and validate a YAML pipeline config."""
    return parse_sft_config(read_config_file(path), source=Path(path).name)
