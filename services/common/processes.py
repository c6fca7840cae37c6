"""Child processes for one-machine runs (the demo, end-to-end tests): start, wait ready, stop cleanly.

Each child runs in its own process group, so stopping it also stops whatever it forked (an RQ worker
forks a work horse per job). Readiness is observed, never assumed: an HTTP probe for the simulator and
a registered RQ worker with a fresh heartbeat for workers.

    with Supervisor() as sup:
        sim = sup.start("simulator", ["zerosearch", "simulator", "serve", "--port", "8123"], env=env)
        sup.wait_http(sim, "http://127.0.0.1:8123/readyz", timeout_s=300)
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import redis
from rq import Worker

from zerosearch.common.errors import ServerError

__all__ = ["Child", "Supervisor", "zerosearch_command"]

log = logging.getLogger(__name__)


def zerosearch_command(*args: str) -> list[str]:
    """The command line that runs ``zerosearch <args>`` with this interpreter (no PATH lookup)."""
    return [sys.executable, "-m", "zerosearch.cli", *args]


@dataclass
class Child:
    """A started child process and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def tail(self, lines: int = 20) -> str:
        """The last lines of the child's log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Supervisor:
    """Starts children, waits on their readiness and stops every one of them on exit (also on Ctrl-C, and
    on SIGTERM while it is the context manager of the main thread: `kill`, `timeout`, a container stop)."""

    log_dir: Path = field(default_factory=lambda: Path.cwd() / "runs" / "logs")
    stop_timeout_s: float = 20.0
    children: list[Child] = field(default_factory=list)
    _previous_sigterm: object = field(default=None, repr=False)

    def start(self, name: str, command: list[str], *, env: dict[str, str] | None = None) -> Child:
        """Start ``command`` in a new process group; stdout and stderr go to ``<log_dir>/<name>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "wb") as out:  # the child keeps its own descriptor
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        child = Child(name, process, log_path)
        self.children.append(child)
        log.info("started %s (pid %d), log %s", name, process.pid, log_path)
        return child

    def _check_alive(self, child: Child) -> None:
        if not child.alive:
            raise ServerError(
                f"{child.name} exited with code {child.process.returncode} before it was ready; "
                f"last lines of {child.log_path}:\n{child.tail()}"
            )

    def wait_http(
        self, child: Child, url: str, *, timeout_s: float = 300.0, interval_s: float = 0.25
    ) -> None:
        """Poll ``url`` until it answers 200, the child dies (error with its log) or time runs out."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                self._check_alive(child)
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        return
                time.sleep(interval_s)
        raise ServerError(f"{child.name} not ready at {url} after {timeout_s:.0f}s:\n{child.tail()}")

    def wait_worker(
        self,
        child: Child,
        conn: redis.Redis,
        queue: str,
        *,
        timeout_s: float = 120.0,
        interval_s: float = 0.2,
    ) -> None:
        """Wait until an RQ worker of ``child`` listens on ``queue`` with a live heartbeat."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive(child)
            for worker in Worker.all(connection=conn):
                if queue in worker.queue_names() and worker.pid is not None and worker.last_heartbeat:
                    return
            time.sleep(interval_s)
        raise ServerError(
            f"{child.name}: no worker on queue {queue!r} after {timeout_s:.0f}s:\n{child.tail()}"
        )

    def stop(self, child: Child) -> None:
        """SIGTERM the child's process group, then SIGKILL it and every descendant after the grace time.

        Descendants are collected first: an RQ work horse moves to its own process group (setpgrp), so
        killing the worker's group alone would leave the horse running a job.
        """
        descendants = _descendants(child.process.pid)
        if child.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
            try:
                child.process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs: killing it", child.name, self.stop_timeout_s)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, signal.SIGKILL)
        for process in descendants + _descendants(child.process.pid):
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(descendants, timeout=5)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=5)

    def stop_all(self) -> None:
        """Stop children in reverse start order."""
        for child in reversed(self.children):
            self.stop(child)
        self.children.clear()

    def __enter__(self) -> Supervisor:
        # Python's default SIGTERM ends the process without unwinding, which would orphan every child
        # (the simulator, llama-server, the workers and their jobs): turn it into SystemExit instead.
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop_all()
        finally:
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)  # type: ignore[arg-type]
                self._previous_sigterm = None


def _exit_on_sigterm(signum: int, frame: object) -> None:
    log.warning("SIGTERM: stopping every child process")
    raise SystemExit(128 + signum)


def _descendants(pid: int) -> list[psutil.Process]:
    """Every live descendant of ``pid`` (empty once it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
