"""Rollouts through TRL's vLLM **server** (``vllm_mode: server``): ``trl vllm-serve`` on its own GPUs.

TRL's trainer (rank 0) pushes the training weights to the server before each rollout batch; every rank
then generates its share of the agent turns over the server's OpenAI-compatible ``/v1/completions``
endpoint, from token ids, stopping at the tag boundaries, with the sampled tokens' logprobs (TRL corrects
the vLLM/trainer mismatch with importance sampling, as in colocate mode).

    trl vllm-serve --model Qwen/Qwen2.5-7B --tensor-parallel-size 2 --port 8001   # GPUs of its own
    # run config: use_vllm: true, vllm_mode: server, vllm_server_url: http://vllm:8001

Unverified on GPU: this machine has no GPU and no vLLM; the request and response shapes follow TRL
1.16's own ``VLLMClient.generate`` (tests/trainer/test_distributed_units.py checks them over HTTP).
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from zerosearch.common.errors import EngineError
from zerosearch.common.policy import Generation, Policy

__all__ = ["VLLMServerPolicy"]


class VLLMServerPolicy(Policy):
    """Generates with a ``trl vllm-serve`` process over HTTP."""

    def __init__(self, base_url: str, tokenizer: Any, *, client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokenizer = tokenizer
        self.client = client or httpx.Client(timeout=httpx.Timeout(600.0, connect=30.0))
        self._model: str | None = None

    @classmethod
    def from_trainer(cls, trainer: Any) -> VLLMServerPolicy:
        """The policy for a trainer in server mode (its ``vllm_server_base_url``); cached on the trainer."""
        cached = getattr(trainer, "_zerosearch_vllm_server", None)
        if cached is not None:
            return cached
        url = getattr(trainer.args, "vllm_server_base_url", None)
        if not url:
            host = getattr(trainer.args, "vllm_server_host", None)
            port = getattr(trainer.args, "vllm_server_port", None)
            if not host:
                raise EngineError("vllm_mode is server but no vllm_server_url is set")
            url = f"http://{host}:{port}"
        policy = cls(url, trainer.processing_class)
        trainer._zerosearch_vllm_server = policy
        return policy

    @property
    def model(self) -> str:
        """The served model's id (asked once)."""
        if self._model is None:
            try:
                response = self.client.get(f"{self.base_url}/v1/models")
                response.raise_for_status()
                self._model = str(response.json()["data"][0]["id"])
            except (httpx.HTTPError, KeyError, IndexError) as exc:
                raise EngineError(f"vLLM server at {self.base_url} did not list its model: {exc}") from exc
        return self._model

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
        """One request for the whole batch; the stop string stays in the text and the ids."""
        payload: dict[str, Any] = {
            "model": self.model,
            "prompt": prompts,
            "n": 1,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p if temperature > 0 else 1.0,
            "logprobs": 0,  # the sampled token's logprob only
            "stop": stop or None,
            "include_stop_str_in_output": True,
            "return_token_ids": True,
            "return_tokens_as_token_ids": True,
        }
        if seed is not None:
            payload["seed"] = seed
        try:
            response = self.client.post(f"{self.base_url}/v1/completions", json=payload)
            response.raise_for_status()
            choices = response.json()["choices"]
        except (httpx.HTTPError, KeyError) as exc:
            raise EngineError(f"vLLM server at {self.base_url} failed to generate: {exc}") from exc
        if len(choices) != len(prompts):
            raise EngineError(f"vLLM server returned {len(choices)} completions for {len(prompts)} prompts")
        choices = sorted(choices, key=lambda choice: choice.get("index", 0))
        return [self._generation(choice, stop) for choice in choices]

    def _generation(self, choice: dict[str, Any], stop: list[str]) -> Generation:
        ids = [int(token) for token in choice["token_ids"]]
        text = choice.get("text")
        if text is None:
            text = self.tokenizer.decode(ids, skip_special_tokens=False)
        logprobs = _sampled_logprobs(choice.get("logprobs"), len(ids))
        found = next((s for s in stop if s and text.endswith(s)), None)
        return Generation(ids=ids, text=text, logprobs=logprobs, stop=found)


def _sampled_logprobs(block: dict[str, Any] | None, length: int) -> list[float] | None:
    # Completions format: token_logprobs holds the sampled token's logprob at each position.
    if not block or "token_logprobs" not in block:
        return None
    values = [0.0 if v is None or math.isnan(v) else float(v) for v in block["token_logprobs"]]
    return values if len(values) == length else None
