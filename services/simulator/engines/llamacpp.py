"""The ``llamacpp`` engine: llama.cpp's ``llama-server`` as a child process, the fast CPU engine.

``start()`` locates or builds ``llama-server`` (:mod:`~zerosearch.simulator.engines.llama_server`), runs it
on a free loopback port with the model's GGUF and ``max_batch_size`` parallel slots (continuous batching:
requests join and leave the running batch), and warms every slot with a full simulation prompt so the
shared one-shot prefix is in each slot's KV cache before the first call. Each request then goes to the
native ``POST /completion`` with ``cache_prompt``: only the tokens after the cached prefix are computed.
Flash attention is on or off as measured faster on this machine (once, cached:
:mod:`~zerosearch.simulator.engines.flash_attention`) unless ``flash_attention`` says which.

The prompt is rendered and tokenised exactly as the transformers engine does (the model's HF tokenizer
and chat template) and sent as token ids. Sampling is plain temperature sampling over the whole
vocabulary (top-k, top-p, min-p and penalties off), the same distribution as the transformers engine,
with a per-request seed (unseeded requests draw one from the OS). The child dies with the simulator: it
is stopped on ``aclose()`` and, on Linux, killed by the kernel if the simulator itself dies.

    engine = LlamaCppEngine(SimulatorSettings(engine="llamacpp", model="smollm2-135m"))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from zerosearch.common.connection import free_port
from zerosearch.common.defaults import BUNDLED_MODEL_ALIASES, DEFAULT_TOP_K
from zerosearch.common.errors import EngineError, EngineOverloadedError
from zerosearch.common.models import bundled_gguf_path, load_tokenizer
from zerosearch.common.retry import UPSTREAM_ERRORS, RetryPolicy, upstream_error
from zerosearch.simulator.engines.base import Engine, Generation, GenerationRequest
from zerosearch.simulator.engines.flash_attention import measured_flash_attention
from zerosearch.simulator.engines.llama_server import llama_server_binary
from zerosearch.simulator.prompts import Mode, build_prompt

if TYPE_CHECKING:
    from zerosearch.simulator.metrics import SimulatorMetrics
    from zerosearch.simulator.settings import SimulatorSettings

__all__ = ["PLAIN_SAMPLING", "PROMPT_ALLOWANCE", "LlamaCppEngine", "gguf_path"]

log = logging.getLogger(__name__)

PROMPT_ALLOWANCE = 1024
"""Prompt tokens each slot has room for on top of ``max_new_tokens`` (a simulation prompt is ~250-700)."""

# Neither flash-attention setting makes a first call and its repeat match: the first prefills the prompt
# tail at once, the repeat reads it from the slot's cache (docs/simulator.md, "Seeds").
_READY_TIMEOUT_S = 120.0
_REQUEST_TIMEOUT_S = 600.0
_NO_REPACK = "--no-repack"
"""llama-server's flag for the plain CPU kernels: no repacked or AMX copies of the weights."""
_SEED_RANGE = 0xFFFFFFFF
"""llama.cpp seeds are 32-bit and 0xFFFFFFFF means "random": seeds are taken modulo this."""

PLAIN_SAMPLING = {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0}
"""Plain temperature sampling over the whole vocabulary, as the transformers engine and the reference's vLLM
(its defaults) sample: every truncation llama-server applies by default turned off in each request."""


def gguf_path(model: str) -> Path:
    """The GGUF file of ``model``: the bundled alias or a ``.gguf`` path; anything else is an EngineError."""
    text = model.strip()
    if text.lower() in BUNDLED_MODEL_ALIASES:
        return bundled_gguf_path()
    if not text.endswith(".gguf"):
        raise EngineError(
            f"engine=llamacpp needs a GGUF model (the bundled alias or a .gguf file), got model={text!r}; "
            "use engine=transformers for HF folders and hub ids"
        )
    path = Path(text).expanduser()
    if not path.is_file():
        raise EngineError(f"model file not found: {path}")
    return path


class _IllegalInstruction(EngineError):
    """llama-server died of SIGILL: built for a CPU feature this machine reports but does not grant."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGKILL this child when the thread that started it dies (Linux)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class LlamaCppEngine(Engine):
    """Generate with a ``llama-server`` child process (continuous batching, per-slot prompt cache)."""

    name = "llamacpp"

    def __init__(
        self,
        settings: SimulatorSettings,
        metrics: SimulatorMetrics | None = None,
        *,
        tokenizer: Any = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        super().__init__(settings, metrics)
        self.tokenizer = tokenizer
        self.extra_args = extra_args
        """More ``llama-server`` flags (benches try levers with them)."""
        self.ctx_per_slot = PROMPT_ALLOWANCE + settings.max_new_tokens
        self.flash_attention: str | None = (
            None if settings.flash_attention == "measure" else settings.flash_attention
        )
        """``--flash-attn`` of the server: the setting, or after ``start()`` the one measured faster here."""
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.url: str | None = None
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(settings.max_batch_size)
        self._pending = 0
        self._busy_since = 0.0
        self._done_while_busy = 0

    def command(self, binary: Path, model: Path, port: int) -> list[str]:
        """The ``llama-server`` command line for these settings."""
        s = self.settings
        command = [
            str(binary), "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
            "--parallel", str(s.max_batch_size), "--ctx-size", str(s.max_batch_size * self.ctx_per_slot),
            "--cont-batching", "--no-webui",
            "--log-verbosity", "2",
        ]  # fmt: skip
        if s.threads is not None:
            command += ["--threads", str(s.threads), "--threads-batch", str(s.threads)]
        if self.flash_attention is not None:
            command += ["--flash-attn", self.flash_attention]
        return command + list(self.extra_args)

    async def start(self) -> None:
        """Locate or build llama-server, start it, wait for ``/health``, warm every slot.

        A llama-server killed by SIGILL at start (built for CPU features this machine reports but does not
        grant, such as AMX on some VMs) is started once more with ``--no-repack``: the plain CPU kernels.
        """
        model = gguf_path(self.settings.model)
        if self.tokenizer is None:
            self.tokenizer = await asyncio.to_thread(load_tokenizer, self.settings.model)
        binary = await asyncio.to_thread(llama_server_binary, self.settings.llama_server_path)
        if self.flash_attention is None:
            self.flash_attention = await measured_flash_attention(
                self.settings, self.tokenizer, binary, model, self.extra_args
            )
        try:
            await self._start(binary, model)
        except _IllegalInstruction:
            if _NO_REPACK in self.extra_args:
                raise
            log.warning(
                "llama-server died of SIGILL at start (%s): starting it again with %s", binary, _NO_REPACK
            )
            self.extra_args = (*self.extra_args, _NO_REPACK)
            await self._start(binary, model)

    async def _start(self, binary: Path, model: Path) -> None:
        port = free_port()
        fd, log_name = tempfile.mkstemp(prefix=f"zerosearch-llama-server-{port}-", suffix=".log")
        self.log_path = Path(log_name)
        command = self.command(binary, model, port)
        log.info("starting %s", " ".join(command))
        # Started from the event loop's thread, which lives as long as the engine: the death signal
        # fires when that thread ends, so a crashed simulator leaves no orphan behind.
        self.process = subprocess.Popen(
            command,
            stdout=fd,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        os.close(fd)
        self.url = f"http://127.0.0.1:{port}"
        self._client = httpx.AsyncClient(
            base_url=self.url, timeout=httpx.Timeout(_REQUEST_TIMEOUT_S, connect=10.0)
        )
        try:
            await self._wait_ready()
            await self._warm()
        except BaseException:
            await self.aclose()
            raise
        log.info(
            "llama-server ready at %s (pid %d, %d slots)",
            self.url,
            self.process.pid,
            self.settings.max_batch_size,
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return (
                "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
                if self.log_path
                else ""
            )
        except OSError:
            return ""

    def _require_alive(self) -> None:
        if self.process is None or self._client is None:
            raise EngineError("the llamacpp engine is not started")
        if self.process.poll() is not None:
            died = _IllegalInstruction if self.process.returncode == -signal.SIGILL else EngineError
            raise died(
                f"llama-server exited with code {self.process.returncode}; log {self.log_path}:\n{self._log_tail()}"
            )

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self._require_alive()
            with contextlib.suppress(httpx.HTTPError):
                if (await self._client.get("/health")).status_code == 200:  # type: ignore[union-attr]
                    return
            await asyncio.sleep(0.1)
        raise EngineError(f"llama-server not ready after {_READY_TIMEOUT_S:.0f}s; log {self.log_path}")

    async def _warm(self) -> None:
        """Fill every slot's prompt cache with a full prompt (both modes): the shared prefix is then reused."""
        style = self.settings.prompt_style
        prompts = [
            build_prompt("warm-up", Mode.USEFUL if i % 2 == 0 else Mode.NOISY, k=DEFAULT_TOP_K, style=style)
            for i in range(self.settings.max_batch_size)
        ]
        bodies = [
            {
                "prompt": self._ids(p.render(self.tokenizer)),
                "n_predict": 1,
                "id_slot": i,
                "cache_prompt": True,
            }
            for i, p in enumerate(prompts)
        ]
        await asyncio.gather(*(self._post(body) for body in bodies))

    async def aclose(self) -> None:
        """Stop llama-server (SIGTERM to its process group, SIGKILL after 10 s) and close the client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await asyncio.to_thread(process.wait, 10)

    async def check(self) -> None:
        """The child is alive and answers ``GET /health``."""
        self._require_alive()
        try:
            (await self._client.get("/health")).raise_for_status()  # type: ignore[union-attr]
        except httpx.HTTPError as exc:
            raise EngineError(f"llama-server not answering: {type(exc).__name__}: {exc}") from exc

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        """All requests concurrently; llama-server batches them in its slots."""
        if self._pending + len(requests) > self.settings.max_queue:
            raise EngineOverloadedError(
                f"llamacpp engine queue full ({self._pending} waiting, limit {self.settings.max_queue})",
                retry_after=self.settings.retry_after_s,
            )
        if self._pending == 0:
            self._busy_since, self._done_while_busy = time.perf_counter(), 0
        self._pending += len(requests)
        try:
            results = await asyncio.gather(*(self._one(r) for r in requests))
        finally:
            self._pending -= len(requests)
            self._done_while_busy += len(requests)
            if self._pending == 0:  # one busy period: its requests over its wall time
                self.observe_batch(self._done_while_busy, time.perf_counter() - self._busy_since)
        if self.metrics is not None:
            self.metrics.batch_size.observe(len(requests))
            self.metrics.tokens.inc(sum(g.completion_tokens for g in results))
            self.metrics.prompt_tokens.inc(sum(g.prompt_tokens for g in results))
        return list(results)

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        """The ``/completion`` body of one request (prompt as token ids, seed, stop strings, budget)."""
        ids = self._ids(request.prompt.render(self.tokenizer))
        if len(ids) + request.max_new_tokens > self.ctx_per_slot:
            raise EngineError(
                f"prompt of {len(ids)} tokens plus {request.max_new_tokens} new tokens exceeds a slot's "
                f"context of {self.ctx_per_slot} tokens"
            )
        seed = request.seed if request.seed is not None else secrets.randbits(63)
        return {
            "prompt": ids, "n_predict": request.max_new_tokens, "temperature": self.settings.temperature,
            "seed": seed % _SEED_RANGE, "stop": list(request.stop), "cache_prompt": True, **PLAIN_SAMPLING,
        }  # fmt: skip

    async def timed_round(self, tag: str, new_tokens: int) -> float:
        """Seconds for one round of concurrent simulator prompts, one a slot (modes alternating), each forced
        to ``new_tokens`` new tokens (no stop, end-of-sequence ignored): the same work whatever is sampled."""
        style, bodies = self.settings.prompt_style, []
        for i in range(self.settings.max_batch_size):
            mode = Mode.USEFUL if i % 2 == 0 else Mode.NOISY
            prompt = build_prompt(f"{tag} history of city number {i}", mode, k=DEFAULT_TOP_K, style=style)
            request = GenerationRequest(prompt, max_new_tokens=new_tokens, seed=i)
            bodies.append({**self.body(request), "ignore_eos": True})
        start = time.perf_counter()
        answers = await asyncio.gather(*(self._post(body) for body in bodies))
        seconds = time.perf_counter() - start
        if any(int(a.get("tokens_predicted", -1)) != new_tokens for a in answers):
            raise EngineError(f"llama-server did not generate the {new_tokens} tokens a timed round asks for")
        return seconds

    async def _one(self, request: GenerationRequest) -> Generation:
        body = self.body(request)
        async with self._slots:
            data = await self._post(body)
        try:
            return Generation(
                text=str(data["content"]),
                prompt_tokens=len(body["prompt"]),
                completion_tokens=int(data["tokens_predicted"]),
                truncated=data.get("stop_type") == "limit",
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EngineError(f"unexpected response from llama-server: {exc!r}") from exc

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /completion with bounded retries on connection errors and 5xx; failures become EngineError."""
        self._require_alive()
        client, attempts = self._client, 0
        policy = RetryPolicy(retries=3, backoff_s=0.2, what="llama-server request")

        async def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            self._require_alive()
            return (await client.post("/completion", json=body)).raise_for_status()  # type: ignore[union-attr]

        try:
            response = await policy.acall(attempt)
        except UPSTREAM_ERRORS as exc:
            raise upstream_error(exc, "llama-server", EngineError, attempts=attempts) from exc
        return response.json()
