"""A policy served by an OpenAI-compatible ``/v1/completions`` endpoint (vLLM serve, TGI, SGLang…).

Limitation: the endpoint speaks text, so the prompt ids are decoded to text and the returned text is
re-tokenized with the local tokenizer. The ids are therefore a faithful tokenization of the sampled
text, not necessarily the ids the server sampled, and no logprobs are returned: fine for evaluation,
not for RL training (use the transformers or vLLM engine there).

    policy = OpenAIPolicy.from_options("Qwen/Qwen2.5-3B", base_url="http://gpu:8000/v1")
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import httpx

from zerosearch.common.defaults import SEARCH_BACKOFF_S, SEARCH_RETRIES
from zerosearch.common.errors import ConfigError, EngineError
from zerosearch.common.policy import Generation, Policy
from zerosearch.common.retry import UPSTREAM_ERRORS, RetryPolicy, upstream_error

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["OpenAIPolicy", "restore_stop"]

log = logging.getLogger(__name__)


def restore_stop(
    text: str, stop: list[str], finish_reason: str | None, stop_reason: Any = None
) -> tuple[str, str | None]:
    """Put back the stop string the OpenAI API strips from the text; returns (text, stop or None).

    vLLM reports the matched string in ``stop_reason``; other servers only say ``finish_reason="stop"``,
    then the last opened tag (``<search>`` or ``<answer>``) tells which closing tag matched.
    """
    for candidate in stop:
        if text.endswith(candidate):
            return text, candidate
    if finish_reason != "stop":
        return text, None
    if isinstance(stop_reason, str) and stop_reason in stop:
        return text + stop_reason, stop_reason
    opened = [(text.rfind("<" + s[2:]), s) for s in stop if s.startswith("</")]
    position, candidate = max(opened, default=(-1, None))
    if position >= 0 and candidate is not None:
        return text + candidate, candidate
    return text, None  # an EOS stop: nothing to restore


class OpenAIPolicy(Policy):
    """Batched completions from an OpenAI-compatible server, re-tokenized locally."""

    def __init__(
        self,
        model: str,
        tokenizer: PreTrainedTokenizerBase,
        *,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        retries: int = SEARCH_RETRIES,
        backoff_s: float = SEARCH_BACKOFF_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"base_url must start with http:// or https://, got {base_url!r}", param="base_url"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.policy = RetryPolicy(retries=max(1, retries), backoff_s=backoff_s, what="completions request")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )

    @classmethod
    def from_options(
        cls, model: str, *, tokenizer: str | None = None, served_model: str | None = None, **opts: Any
    ) -> OpenAIPolicy:
        """Load the local tokenizer (``tokenizer`` or ``model``) and connect; ``served_model`` names the
        model on the server when it differs from the local spec."""
        from zerosearch.common.models import load_tokenizer

        if "base_url" not in opts:
            raise ConfigError("engine 'openai' needs base_url (e.g. http://host:8000/v1)", param="base_url")
        return cls(served_model or model, load_tokenizer(tokenizer or model), **opts)

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /completions under the platform's retry policy; failures become EngineError."""
        attempts = 0

        def attempt() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            response = self._client.post("/completions", json=body)
            response.raise_for_status()
            try:
                return response.json()
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise EngineError(f"completions endpoint answered a body that is not JSON: {exc}") from exc

        try:
            return self.policy.call(attempt)
        except UPSTREAM_ERRORS as exc:
            raise upstream_error(exc, "completions endpoint", EngineError, attempts=attempts) from exc

    def generate(
        self,
        prompts: list[list[int]],
        *,
        max_new_tokens: int,
        stop: list[str],
        temperature: float,
        top_p: float,
        seed: int | None = None,
    ) -> list[Generation]:
        """One batched completions request (a list of prompts); choices are matched by ``index``."""
        if not prompts:
            return []
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": [self.tokenizer.decode(p, skip_special_tokens=False) for p in prompts],
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p if temperature > 0 else 1.0,
            "stop": [s for s in stop if s][:4],  # the OpenAI API takes at most 4 stop strings
        }
        if seed is not None:
            body["seed"] = seed
        choices = sorted(self._post(body).get("choices", []), key=lambda c: c.get("index", 0))
        if len(choices) != len(prompts):
            raise EngineError(f"completions returned {len(choices)} choices for {len(prompts)} prompts")
        generations = []
        for choice in choices:
            text, found = restore_stop(
                choice.get("text") or "", stop, choice.get("finish_reason"), choice.get("stop_reason")
            )
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            generations.append(Generation(ids=ids, text=self.tokenizer.decode(ids), stop=found))
        return generations

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()
