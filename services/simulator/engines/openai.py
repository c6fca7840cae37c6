"""Engine backed by any OpenAI-compatible server (``vllm serve``, SGLang, llama.cpp) over httpx.

The scale-out path: simulator pods stay stateless and forward generation. Each search call is one
``POST {base_url}/chat/completions`` (the server applies its model's chat template); at most
``max_batch_size`` run at once, at most ``max_queue`` wait, and each has a timeout and bounded retries
with exponential back-off on connection errors, 429 and 5xx. Other 4xx answers fail at once.

Every request asks for plain temperature sampling (``top_p`` 1.0, the OpenAI field every such server
honours), as the other engines and the reference's vLLM sample. Truncations outside the OpenAI fields stay
the server's: llama-server's default top-k 40 and min-p 0.05 (start it with ``--top-k 0 --min-p 0``), and
``vllm serve``'s model generation config (``--generation-config vllm`` ignores it).

    engine = OpenAIEngine(SimulatorSettings(engine="openai", model="Qwen/Qwen2.5-3B-Instruct",
                                            openai_base_url="http://gpu-node:8001/v1"))
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from zerosearch.common.errors import EngineError, EngineOverloadedError
from zerosearch.common.retry import UPSTREAM_ERRORS, RetryPolicy, upstream_error
from zerosearch.simulator.engines.base import Engine, Generation, GenerationRequest

__all__ = ["OpenAIEngine"]

log = logging.getLogger(__name__)


class OpenAIEngine(Engine):
    """Generate through an OpenAI-compatible chat-completions endpoint."""

    name = "openai"

    def __init__(
        self, settings: Any, metrics: Any = None, *, transport: httpx.AsyncBaseTransport | None = None
    ):
        super().__init__(settings, metrics)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(settings.max_batch_size)
        self._pending = 0

    async def start(self) -> None:
        """Open the HTTP client (connections are pooled and reused)."""
        key = self.settings.openai_api_key
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
        self._client = httpx.AsyncClient(
            base_url=self.settings.openai_base_url,
            headers=headers,
            timeout=httpx.Timeout(
                self.settings.openai_timeout_s, connect=min(10.0, self.settings.openai_timeout_s)
            ),
            transport=self._transport,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check(self) -> None:
        """The server answers ``GET /models``."""
        if self._client is None:
            raise EngineError("the openai engine is not started")
        try:
            response = await self._client.get("/models")
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise EngineError(f"OpenAI-compatible server not answering: {type(exc).__name__}: {exc}") from exc

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        """All requests concurrently (the server batches them), bounded by the queue limit."""
        if self._pending + len(requests) > self.settings.max_queue:
            raise EngineOverloadedError(
                f"openai engine queue full ({self._pending} waiting, limit {self.settings.max_queue})",
                retry_after=self.settings.retry_after_s,
            )
        self._pending += len(requests)
        try:
            results = await asyncio.gather(*(self._one(r) for r in requests))
        finally:
            self._pending -= len(requests)
        if self.metrics is not None:
            self.metrics.batch_size.observe(len(requests))
            self.metrics.tokens.inc(sum(g.completion_tokens for g in results))
        return list(results)

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_name,
            "messages": request.prompt.messages,
            "max_tokens": request.max_new_tokens,
            "temperature": self.settings.temperature,
            "top_p": 1.0,  # no nucleus truncation, whatever the server's or the model's default
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.seed is not None:
            body["seed"] = request.seed
        return body

    async def _one(self, request: GenerationRequest) -> Generation:
        async with self._slots:
            data = await self._post_with_retries("/chat/completions", self._body(request))
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            usage = data.get("usage") or {}
        except (KeyError, IndexError, TypeError) as exc:
            raise EngineError(f"unexpected response from the OpenAI-compatible server: {exc!r}") from exc
        # Generation.text continues the prompt's prefix; a chat server writes the prefix itself.
        prefix = request.prompt.prefix
        if prefix and text.lstrip().startswith(prefix):
            text = text.lstrip()[len(prefix) :]
        return Generation(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            truncated=choice.get("finish_reason") == "length",
        )

    async def _post_with_retries(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST under the platform's retry policy (common.retry); failures become EngineError."""
        if self._client is None:
            raise EngineError("the openai engine is not started")
        client, attempts = self._client, 0
        policy = RetryPolicy(
            retries=self.settings.openai_retries,
            backoff_s=self.settings.openai_backoff_s,
            what="openai engine request",
        )

        async def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return (await client.post(path, json=body)).raise_for_status()

        try:
            response = await policy.acall(attempt)
        except UPSTREAM_ERRORS as exc:
            raise upstream_error(exc, "OpenAI-compatible server", EngineError, attempts=attempts) from exc
        return response.json()
