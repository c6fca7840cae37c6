"""Dynamic micro-batching: gather concurrent requests for a few ms, run them as one batch off the loop.

    batcher = MicroBatcher(run_batch, max_batch_size=16, wait_ms=10, max_queue=256)
    batcher.start()
    results = await batcher.submit([req1, req2])     # EngineOverloadedError when the queue is full

``run_batch`` is a blocking function (a model forward) called in one dedicated worker thread, so the event
loop keeps answering health checks and cache hits while the model generates, and batches never overlap.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from zerosearch.common.error_map import map_error
from zerosearch.common.errors import EngineError, EngineOverloadedError, ZeroSearchError

__all__ = ["MicroBatcher"]

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")


class MicroBatcher(Generic[In, Out]):
    """A bounded asyncio queue drained into batches of at most ``max_batch_size`` requests."""

    def __init__(
        self,
        run_batch: Callable[[list[In]], Sequence[Out]],
        *,
        max_batch_size: int,
        wait_ms: float,
        max_queue: int,
        retry_after_s: float = 1.0,
        on_batch: Callable[[int, int], None] | None = None,
        on_done: Callable[[int, float], None] | None = None,
    ) -> None:
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.wait_s = wait_ms / 1000.0
        self.max_queue = max_queue
        self.retry_after_s = retry_after_s
        self._on_batch = on_batch  # (batch size, queue depth) after each batch is formed
        self._on_done = on_done  # (batch size, seconds) after each batch generated
        self._queue: asyncio.Queue[tuple[In, asyncio.Future[Out]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def depth(self) -> int:
        """Requests waiting for a batch."""
        return self._queue.qsize() if self._queue is not None else 0

    @property
    def alive(self) -> bool:
        """True while the batching task runs."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Create the queue and the batching task on the running loop."""
        self._queue = asyncio.Queue()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="micro-batcher")

    async def aclose(self) -> None:
        """Stop batching; waiting requests fail with EngineError."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        while self._queue is not None and not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(EngineError("the engine is shutting down"))
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def submit(self, requests: list[In]) -> list[Out]:
        """Queue all ``requests`` (all or none) and wait for their results, in order."""
        if self._queue is None or not self.alive:
            raise EngineError("the engine is not running")
        if self._queue.qsize() + len(requests) > self.max_queue:
            raise EngineOverloadedError(
                f"the engine queue is full ({self._queue.qsize()} waiting, limit {self.max_queue}); retry later",
                retry_after=self.retry_after_s,
            )
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Out]] = []
        for request in requests:
            future: asyncio.Future[Out] = loop.create_future()
            self._queue.put_nowait((request, future))
            futures.append(future)
        return list(await asyncio.gather(*futures))

    async def _gather(self) -> list[tuple[In, asyncio.Future[Out]]]:
        """Wait for one request, then collect more until the batch is full or the wait is over."""
        assert self._queue is not None
        batch = [await self._queue.get()]
        deadline = asyncio.get_running_loop().time() + self.wait_s
        while len(batch) < self.max_batch_size:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), timeout=remaining))
            except TimeoutError:
                break
        # A caller that went away (client disconnect) needs no generation.
        return [(req, fut) for req, fut in batch if not fut.done()]

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            if not batch:
                continue
            if self._on_batch is not None:
                self._on_batch(len(batch), self.depth)
            started = time.perf_counter()
            try:
                outputs = await loop.run_in_executor(self._executor, self._run_batch, [r for r, _ in batch])
                error: BaseException | None = None
                if self._on_done is not None:
                    self._on_done(len(batch), time.perf_counter() - started)
            except ZeroSearchError as exc:
                error = exc
            except Exception as exc:  # any library failure becomes our EngineError at this boundary
                log.exception("engine batch of %d failed", len(batch))
                # torch OOM → 503 (retry later), vLLM → EngineError; anything else is a failed generation.
                error = map_error(exc, what="engine", upstream=EngineError) or EngineError(
                    f"generation failed: {type(exc).__name__}: {exc}"
                )
            for i, (_, future) in enumerate(batch):
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(outputs[i])
