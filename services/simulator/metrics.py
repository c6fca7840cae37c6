"""Prometheus metrics of the simulator, on a registry of their own (one per app, so tests can run many).

Served at ``GET /metrics``: requests, latency, engine batch sizes, queue depth, cache hits/misses/errors,
tokens generated, documents by mode and parse shortfalls.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["SimulatorMetrics"]

_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class SimulatorMetrics:
    """The simulator's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "zerosearch_simulator_requests", "HTTP requests.", ["endpoint", "status"], registry=r
        )
        self.latency = Histogram(
            "zerosearch_simulator_request_latency_seconds",
            "HTTP request latency.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.searches = Counter("zerosearch_simulator_searches", "Search calls served.", ["mode"], registry=r)
        self.batch_size = Histogram(
            "zerosearch_simulator_batch_size",
            "Requests per engine batch.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "zerosearch_simulator_queue_depth", "Requests waiting for the engine.", registry=r
        )
        self.cache_hits = Counter(
            "zerosearch_simulator_cache_hits", "Responses served from the cache.", registry=r
        )
        self.cache_misses = Counter(
            "zerosearch_simulator_cache_misses", "Cache lookups that missed.", registry=r
        )
        self.cache_errors = Counter(
            "zerosearch_simulator_cache_errors", "Cache operations bypassed because Redis failed.", registry=r
        )
        self.prompt_tokens = Counter("zerosearch_simulator_prompt_tokens", "Prompt tokens read.", registry=r)
        self.tokens = Counter("zerosearch_simulator_tokens_generated", "New tokens generated.", registry=r)
        self.shortfalls = Counter(
            "zerosearch_simulator_parse_shortfalls", "Calls that parsed fewer than k documents.", registry=r
        )
        self.engine_errors = Counter(
            "zerosearch_simulator_engine_errors", "Failed engine batches.", registry=r
        )
        self.overloads = Counter("zerosearch_simulator_overloads", "Requests refused with 503.", registry=r)
        self.shed = Counter(
            "zerosearch_simulator_shed",
            "Calls refused at once (503) because they would wait past the latency budget.",
            registry=r,
        )
        self.disconnected = Counter(
            "zerosearch_simulator_disconnected",
            "Requests dropped because their client went away before the answer was ready.",
            registry=r,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
