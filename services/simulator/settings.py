"""Settings of the simulator service, read from ``ZEROSEARCH_*`` environment variables or CLI flags.

    settings = SimulatorSettings(engine="transformers", model="smollm2-135m", max_batch_size=16)

With no Redis URL (``REDIS_URL`` / ``ZEROSEARCH_REDIS_URL``) the simulator runs without a cache: it
never starts an embedded Redis of its own (the CLI demo and the tests pass a URL).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from zerosearch.common.defaults import (
    BUNDLED_MODEL_ALIAS,
    BUNDLED_MODEL_ALIASES,
    CACHE_TTL_S,
    MAX_TOP_K,
    MODEL_CARD_FILE,
    SIMULATOR_PORT,
    SIMULATOR_TEMPERATURE,
)
from zerosearch.common.errors import ConfigError
from zerosearch.common.settings import CommonSettings
from zerosearch.simulator.prompts import PromptStyle, is_released_simulator

__all__ = ["TOKENS_PER_DOCUMENT", "EngineName", "SimulatorSettings", "get_simulator_settings"]

log = logging.getLogger(__name__)

EngineName = Literal["transformers", "llamacpp", "vllm", "openai"]

TOKENS_PER_DOCUMENT = 120
"""Default new-token budget a document: the reference asks 600 new tokens for its 5 documents."""


class SimulatorSettings(CommonSettings):
    """Every option of ``zerosearch simulator serve``."""

    model: str = Field(
        default=BUNDLED_MODEL_ALIAS,
        min_length=1,
        description="Simulator model: the bundled alias, an HF folder, a .gguf file, or a hub id. For the "
        "openai engine, the model name the server knows.",
    )
    engine: EngineName = Field(
        default="transformers",
        description="transformers, llamacpp (llama.cpp's llama-server as a child process, the fast CPU "
        "engine; needs a GGUF model), vllm or openai.",
    )
    prompt_style: PromptStyle = Field(
        default=PromptStyle.PROMPT_ONLY,
        description="prompt-only (untuned instruct models, the default), tuned (models tuned by `zerosearch "
        "sft`) or released (the input format of Alibaba-NLP/Simulation_LLM_*_V2; chosen automatically for "
        "those models).",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="When set, every endpoint but /healthz and /readyz requires this key; empty is refused.",
    )
    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=SIMULATOR_PORT, ge=1, le=65535, description="Port to listen on.")
    temperature: float = Field(
        default=SIMULATOR_TEMPERATURE, ge=0.0, le=2.0, description="Sampling temperature; 0 = greedy."
    )
    max_new_tokens: int = Field(
        default=TOKENS_PER_DOCUMENT * MAX_TOP_K,
        ge=1,
        le=8192,
        description="Upper bound on new tokens per search call, whatever k (default: k = "
        f"{MAX_TOP_K} documents of {TOKENS_PER_DOCUMENT} tokens).",
    )
    tokens_per_document: int = Field(
        default=TOKENS_PER_DOCUMENT,
        ge=1,
        le=512,
        description="New-token budget per requested document; a call gets min(max_new_tokens, this * k). "
        "The default is the reference's 600 new tokens for 5 documents: room for a ~30-word document and its "
        "`Doc i: (Title: ...)` header with margin, so the k-th document is never cut by the budget. "
        "Generation stops earlier at end-of-sequence or at `Doc k+1`.",
    )
    max_batch_size: int = Field(default=16, ge=1, le=512, description="Most requests generated together.")
    batch_wait_ms: float = Field(
        default=10.0, ge=0.0, le=10_000.0, description="How long the batcher gathers requests."
    )
    max_queue: int = Field(
        default=256, ge=1, le=100_000, description="Requests waiting for the engine before 503s."
    )
    max_request_batch: int = Field(
        default=256, ge=1, le=10_000, description="Most items in one POST /search or /retrieve body."
    )
    retry_after_s: int = Field(
        default=1, ge=1, le=3600, description="Smallest Retry-After sent with a 503 (else the drain time)."
    )
    latency_budget_s: float = Field(
        default=30.0,
        gt=0.0,
        le=3600.0,
        description="Load shedding: a call is admitted while its expected wait (calls admitted ahead of it "
        "times the engine's measured seconds a call) stays within this budget; otherwise it is answered "
        "503 at once with Retry-After = the expected drain time. So the admitted load follows the measured "
        "throughput. Engines that measure none (openai, vllm) are bounded by max_queue only.",
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024, description="Largest request body (413)."
    )
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, le=1024 * 1024, description="Largest total size of the headers (431)."
    )
    max_json_depth: int = Field(
        default=32, ge=4, le=1000, description="Deepest JSON nesting in a body (422)."
    )
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = Field(
        default="float32", description="Weights dtype for the transformers engine."
    )
    quantize: Literal["none", "int8"] = Field(
        default="none",
        description="Transformers engine on CPU: int8 = dynamic int8 Linear layers (fbgemm), about 2x faster "
        "decoding and 1.5x faster prefill than float32 on a laptop CPU (bench/simulator.py).",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="CPU threads of the transformers engine (torch) and of llama-server (engine=llamacpp); "
        "unset = their default. Use 1 when other processes share the cores: oversubscribed threads spin and "
        "slow generation several-fold.",
    )
    flash_attention: Literal["measure", "on", "off"] = Field(
        default="measure",
        description="llama-server's flash attention (engine=llamacpp): on, off, or measure = time both once "
        "on this machine (~20 s, cached under <cache_dir>/llama.cpp/flash-attention/) and keep the faster. "
        "Its CPU kernel is faster on some CPUs and 1.7x slower on others (docs/benchmarks.md).",
    )
    llama_server_path: Path | None = Field(
        default=None,
        description="llama-server binary for engine=llamacpp; unset = llama-server on PATH, else our build "
        "in <cache_dir>/llama.cpp/ (`zerosearch simulator build-llama-server`, made on first use).",
    )
    cache_ttl_s: int = Field(default=CACHE_TTL_S, ge=1, description="Lifetime of a cached response.")
    cache_timeout_s: float = Field(
        default=0.25, gt=0.0, le=30.0, description="Redis socket timeout; a slower cache is bypassed."
    )
    openai_base_url: str = Field(
        default="http://127.0.0.1:8001/v1",
        description="Base URL of an OpenAI-compatible server (engine=openai), ending in /v1.",
    )
    openai_api_key: SecretStr | None = Field(default=None, description="Key for the openai engine's server.")
    openai_timeout_s: float = Field(default=60.0, gt=0.0, description="Timeout of one openai-engine call.")
    openai_retries: int = Field(default=3, ge=1, le=10, description="Attempts per openai-engine call.")
    openai_backoff_s: float = Field(default=0.5, ge=0.0, description="First back-off; doubles each retry.")
    gpu_memory_utilization: float = Field(
        default=0.85, gt=0.0, le=1.0, description="vLLM's share of GPU memory (engine=vllm)."
    )

    @field_validator("api_key")
    @classmethod
    def _key_not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty ZEROSEARCH_API_KEY would lock every guarded route with a key nobody can send.
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty: unset ZEROSEARCH_API_KEY to serve without a key")
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"openai_base_url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _style_of_a_tuned_model(self) -> SimulatorSettings:
        # A folder made by `zerosearch sft train` names the prompt it was tuned on: use it unless the
        # user chose a style, and warn when the choice contradicts the folder.
        card = Path(self.model).expanduser() / MODEL_CARD_FILE
        if not card.is_file():
            return self._style_of_a_released_model()
        try:
            tuned = PromptStyle(json.loads(card.read_text()).get("prompt_style"))
        except (ValueError, OSError) as exc:
            raise ValueError(f"{card} does not name a known prompt_style: {exc}") from None
        if "prompt_style" not in self.model_fields_set:
            self.prompt_style = tuned
        elif self.prompt_style is not tuned:
            log.warning(
                "%s was tuned for prompt style %r but %r was asked for",
                self.model,
                tuned.value,
                self.prompt_style.value,
            )
        return self

    def _style_of_a_released_model(self) -> SimulatorSettings:
        # The released simulators only know the input they were tuned on (Alibaba-NLP/ZeroSearch,
        # llm_agent/generation.py, search_simulate_sft).
        if not is_released_simulator(self.model):
            return self
        if "prompt_style" not in self.model_fields_set:
            self.prompt_style = PromptStyle.RELEASED
        elif self.prompt_style is not PromptStyle.RELEASED:
            log.warning(
                "%s was tuned on the 'released' prompt style but %r was asked for: its documents will suffer",
                self.model,
                self.prompt_style.value,
            )
        return self

    @model_validator(mode="after")
    def _int8_needs_float32(self) -> SimulatorSettings:
        if self.quantize == "int8" and (self.engine != "transformers" or self.dtype != "float32"):
            raise ValueError(
                f"quantize=int8 needs engine=transformers and dtype=float32 "
                f"(got engine={self.engine}, dtype={self.dtype})"
            )
        return self

    @model_validator(mode="after")
    def _llamacpp_needs_gguf(self) -> SimulatorSettings:
        model = self.model.strip()
        if (
            self.engine == "llamacpp"
            and model.lower() not in BUNDLED_MODEL_ALIASES
            and not model.endswith(".gguf")
        ):
            # Not a ValueError: pydantic would drop the field's name from a model-level error.
            raise ConfigError(
                "invalid simulator setting model (env ZEROSEARCH_MODEL): engine=llamacpp needs a GGUF model "
                f"(the bundled alias or a .gguf file), got {model!r}",
                param="model",
            )
        return self

    @model_validator(mode="after")
    def _batch_fits_queue(self) -> SimulatorSettings:
        # A POST batch is queued all-or-none: one larger than the queue could never be served.
        if self.max_request_batch > self.max_queue:
            raise ValueError(
                f"max_request_batch ({self.max_request_batch}) must not exceed max_queue ({self.max_queue})"
            )
        return self

    def new_tokens_for(self, k: int) -> int:
        """The new-token budget of one call for ``k`` documents."""
        return max(1, min(self.max_new_tokens, self.tokens_per_document * k))


def get_simulator_settings(**overrides: object) -> SimulatorSettings:
    """Settings from the environment with ``overrides`` (CLI flags) on top; None values are ignored.

    An invalid value becomes a ConfigError naming the option, never a pydantic traceback.
    """
    try:
        return SimulatorSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(
            f"invalid simulator setting {name} (env ZEROSEARCH_{name.upper()}): {first['msg']}", param=name
        ) from exc
