"""Serve a simulator app on a free local port from a background thread (benches, tests, notebooks).

with serve_in_background(create_app(settings)) as url:
    httpx.get(f"{url}/search", params={"q": "who wrote moby dick"})
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from zerosearch.common.connection import free_port
from zerosearch.common.errors import EngineError

__all__ = ["H11_MAX_HEAD_BYTES", "serve_in_background"]

H11_MAX_HEAD_BYTES = 1024 * 1024
"""What uvicorn's HTTP parser reads of a request head before refusing it with its own plain 400: above
every ``max_header_bytes`` setting, so oversized headers get our 431 envelope from the guard instead."""


@contextmanager
def serve_in_background(app: Any, startup_timeout_s: float = 120.0) -> Iterator[str]:
    """Run ``app`` with uvicorn in a daemon thread; yield its base URL; stop it on exit."""
    # Heavy dependency (uvicorn): imported on use, so importing this module stays light.
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            h11_max_incomplete_event_size=H11_MAX_HEAD_BYTES,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        raise EngineError(f"the app did not start on 127.0.0.1:{port} within {startup_timeout_s:.0f} s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
