"""Load shedding: admit what the engine can serve within the latency budget, refuse the rest at once.

A call's expected wait is the engine work admitted ahead of it plus its own: ``(pending + n) × row_s``,
where ``row_s`` is the engine's measured seconds per request (an EWMA over finished batches, so it
follows the real throughput of this machine and model). A call whose expected wait exceeds
``latency_budget_s`` is answered 503 immediately with ``Retry-After`` = the time until enough of the
queue has drained, instead of waiting minutes in the queue. An idle engine admits any call, and before
the first measurement only the queue bound applies.

    admission = Admission(settings.latency_budget_s, metrics, min_retry_after_s=1)
    with admission.admit(n, engine.row_seconds):
        outputs = await engine.generate(requests)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from zerosearch.common.errors import EngineOverloadedError
from zerosearch.simulator.metrics import SimulatorMetrics

__all__ = ["Admission"]


class Admission:
    """Counts the requests admitted to the engine and sheds those that would wait past the budget."""

    def __init__(self, budget_s: float, metrics: SimulatorMetrics, *, min_retry_after_s: float = 1.0) -> None:
        self.budget_s = budget_s
        self.metrics = metrics
        self.min_retry_after_s = min_retry_after_s
        self.pending = 0

    def drain_s(self, row_s: float | None, extra: int = 0) -> float:
        """Expected seconds until the admitted work (plus ``extra`` requests) is done; 0 when unknown."""
        return (self.pending + extra) * row_s if row_s else 0.0

    def retry_after(self, row_s: float | None, n: int) -> int:
        """Seconds after which ``n`` more requests would fit the budget (at least the configured minimum)."""
        over = self.drain_s(row_s, n) - self.budget_s
        return max(math.ceil(self.min_retry_after_s), math.ceil(over))

    @contextmanager
    def admit(self, n: int, row_s: float | None) -> Iterator[None]:
        """Hold ``n`` requests' place while the body runs; EngineOverloadedError when over the budget."""
        if self.pending and row_s and self.drain_s(row_s, n) > self.budget_s:
            self.metrics.shed.inc(n)
            wait = self.drain_s(row_s, n)
            raise EngineOverloadedError(
                f"the simulator is at capacity: {n} more call(s) would wait about {wait:.1f} s, over the "
                f"{self.budget_s:g} s latency budget; retry later",
                retry_after=self.retry_after(row_s, n),
            )
        self.pending += n
        try:
            yield
        finally:
            self.pending -= n
