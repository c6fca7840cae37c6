"""The evaluation run config: one typed model for Python, CLI flags, YAML files and RQ job payloads.

Each field carries its help text. Build it with :func:`build_eval_config`, which turns pydantic's
validation errors into a ConfigError naming the field and the allowed values, so bad input never shows a
stack trace. The defaults follow the paper's evaluation protocol: greedy decoding (temperature 0), top-5
documents, noise 0, and the gold answer never sent to the search backend.

    config = build_eval_config({"datasets": "nq,bamboogle", "method": "agent", "limit": 50})
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from zerosearch.common.defaults import BUNDLED_MODEL_ALIAS
from zerosearch.common.errors import ConfigError
from zerosearch.common.trajectory import RolloutConfig, RolloutLimits

__all__ = ["DEFAULT_BATCH_SIZE", "EvalConfig", "SearchName", "build_eval_config"]

DEFAULT_BATCH_SIZE = 8
"""Questions rolled out together: generation is batched across them and their searches run concurrently."""

SearchName = Literal["bm25", "simulator", "retrieval", "serpapi", "serper", "tavily", "brave"]


class EvalConfig(RolloutLimits):
    """Everything one evaluation run needs; plain JSON in and out (it is also the RQ job payload).

    The agent-loop limits (max_turns, max_new_tokens, max_completion_tokens, top_k) are the shared
    :class:`RolloutLimits` model, the trainer's ``rollout:`` block; they may be given flat (CLI flags) or as
    a ``rollout:`` mapping (what a training run enqueues for its checkpoints).
    """

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        default=BUNDLED_MODEL_ALIAS,
        description="Policy to evaluate: the bundled alias, a folder (e.g. a checkpoint), a .gguf or a hub id.",
    )
    datasets: list[str] = Field(
        default_factory=lambda: ["nq"],
        min_length=1,
        description="Benchmark names (nq, triviaqa, popqa, hotpotqa, 2wikimultihopqa, musique, bamboogle) "
        "or .jsonl/.json/.parquet paths; a comma-separated string is accepted.",
    )
    method: Literal["agent", "rag", "direct"] = Field(
        default="agent", description="agent: multi-turn search; rag: one search, then answer; direct: none."
    )
    search: SearchName | None = Field(
        default=None,
        description="Search backend for agent/rag; default bm25 over the local corpus (offline stand-in).",
    )
    search_url: str | None = Field(
        default=None, description="Simulator base URL (search=simulator) or retrieval URL (search=retrieval)."
    )
    corpus: Path | None = Field(
        default=None, description="Passage JSONL for bm25; default <data_dir>/corpus/wiki_mini.jsonl."
    )
    data_dir: Path | None = Field(
        default=None,
        description="Folder with qa/<name>.jsonl; default ZEROSEARCH_DATA_DIR or the repository's data/.",
    )
    source: Literal["auto", "local", "hf"] = Field(
        default="auto",
        description="Where registered benchmarks come from: auto (local file if present, else Hugging Face), "
        "local, or hf (RUC-NLPIR/FlashRAG_datasets).",
    )
    limit: int | None = Field(
        default=None, ge=1, description="Questions per dataset (a deterministic sample); default all."
    )
    noise: float = Field(default=0.0, ge=0.0, le=1.0, description="Simulator noise (0 at evaluation).")
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, le=1024, description="Questions per batch.")
    seed: int = Field(default=0, ge=0, description="Seed of the --limit sample and of sampling.")
    temperature: float = Field(default=0.0, ge=0.0, le=5.0, description="Policy temperature; 0 = greedy.")
    top_p: float = Field(
        default=1.0, gt=0.0, le=1.0, description="Policy nucleus sampling (temperature > 0)."
    )
    engine: Literal["transformers", "vllm", "openai"] = Field(
        default="transformers", description="Policy engine."
    )
    engine_url: str | None = Field(default=None, description="Base URL of an OpenAI-compatible endpoint.")
    cpu_threads: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Torch CPU threads for the policy; 1 is much faster on a CPU shared with other jobs.",
    )
    out: Path | None = Field(
        default=None, description="Output folder; default runs/eval/<model>-<UTC time>. Re-runs replace it."
    )

    @model_validator(mode="before")
    @classmethod
    def _flatten_rollout(cls, data: Any) -> Any:
        # A ``rollout:`` block (the trainer's) sets the same fields as the flat keys; given both ways, they
        # must agree.
        if not isinstance(data, dict) or "rollout" not in data:
            return data
        block = data["rollout"]
        if not isinstance(block, dict):
            raise ValueError(f"rollout must be a mapping of {', '.join(RolloutLimits.model_fields)}")
        flat = {k: v for k, v in data.items() if k != "rollout"}
        clash = sorted(k for k in block if k in flat and flat[k] != block[k])
        if clash:
            raise ValueError(f"{clash[0]} is given twice (flat and in rollout:); give it once")
        return {**block, **flat}

    @field_validator("datasets", mode="before")
    @classmethod
    def _split_datasets(cls, value: Any) -> Any:
        # The CLI and job payloads may give "nq,hotpotqa"; a list may also hold comma-joined entries.
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            names = [part.strip() for entry in value for part in str(entry).split(",")]
            names = [n for n in names if n]
            if not names:
                raise ValueError("give at least one dataset name or file path")
            return list(dict.fromkeys(names))  # drop repeats, keep order
        return value

    @field_validator("model")
    @classmethod
    def _model_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("model is empty: give the bundled alias, a folder, a .gguf file or a hub id")
        return value.strip()

    def resolved_search(self) -> SearchName | None:
        """The backend this run uses: none for ``direct``, else the chosen one (default bm25)."""
        if self.method == "direct":
            return None
        return self.search or "bm25"

    def output_dir(self) -> Path:
        """The output folder: ``out`` when given, else a fresh ``runs/eval/<model>-<time>`` folder."""
        if self.out is not None:
            return Path(self.out)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(self.model).name or "model")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        return Path("runs") / "eval" / f"{stem}-{stamp}"

    def rollout_config(self) -> RolloutConfig:
        """The agent-loop settings; question and gold answer are never sent at evaluation (no leak)."""
        return RolloutConfig(
            method=self.method,
            max_turns=self.max_turns,
            max_new_tokens=self.max_new_tokens,
            max_completion_tokens=self.max_completion_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            noise=self.noise,
            send_question=False,
            send_answer=False,
            seed=self.seed,
        )


def build_eval_config(data: dict[str, Any]) -> EvalConfig:
    """Validate ``data`` into an EvalConfig; a bad field raises ConfigError naming it and what is allowed."""
    try:
        return EvalConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "config"
        given = first.get("input")
        detail = first["msg"]
        if first["type"] == "extra_forbidden":
            limits = list(RolloutLimits.model_fields)
            known = [f for f in EvalConfig.model_fields if f not in limits] + [*limits, "rollout"]
            detail = f"unknown option; known options: {', '.join(known)}"
        raise ConfigError(f"{field}: {detail} (got {given!r})", param=field) from None
