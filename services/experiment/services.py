"""The processes an experiment runs its jobs on: Redis (embedded unless REDIS_URL), the simulator (bundled
model, unless an external one is given) and one trainer and one evaluator worker, all stopped on exit."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from zerosearch.common.connection import EmbeddedRedis, connect, free_port
from zerosearch.common.processes import Supervisor, zerosearch_command
from zerosearch.common.settings import get_common_settings
from zerosearch.demo import simulator_engine

__all__ = ["Services", "running_services"]

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the runner needs from the started processes."""

    conn: redis.Redis
    simulator_url: str
    started_s: float


@contextmanager
def running_services(
    out: Path, *, simulator_url: str | None, simulator_model: str, simulator_tokens: int
) -> Iterator[Services]:
    """Start Redis, the simulator (unless ``simulator_url``) and the workers; stop them all on exit."""
    settings = get_common_settings()
    start = time.perf_counter()
    embedded = None if settings.redis_url else EmbeddedRedis(parent=out / "redis").start()
    redis_url = settings.redis_url or embedded.url  # type: ignore[union-attr]
    env = {"REDIS_URL": redis_url, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    try:
        with Supervisor(log_dir=out / "logs") as sup:
            sim = None
            if simulator_url is None:
                port = free_port()
                simulator_url = f"http://127.0.0.1:{port}"
                serve = ["--host", "127.0.0.1", "--port", str(port), "--model", simulator_model]
                serve += ["--engine", simulator_engine()]  # llama.cpp's server when it can run here
                serve += ["--max-new-tokens", str(simulator_tokens)]
                sim = sup.start("simulator", zerosearch_command("simulator", "serve", *serve), env=env)
            trainer = sup.start(
                "trainer-worker", zerosearch_command("trainer", "worker", "--queues", "train"), env=env
            )
            evaluator = sup.start("evaluator-worker", zerosearch_command("evaluator", "worker"), env=env)
            conn = connect(redis_url)
            if sim is not None:
                sup.wait_http(sim, f"{simulator_url}/readyz", timeout_s=600)
            sup.wait_worker(trainer, conn, "train")
            sup.wait_worker(evaluator, conn, "eval")
            log.info("simulator %s · Redis %s · logs %s", simulator_url, redis_url, out / "logs")
            try:
                yield Services(conn, simulator_url, time.perf_counter() - start)
            finally:
                conn.close()
    finally:
        if embedded is not None:
            embedded.stop()
