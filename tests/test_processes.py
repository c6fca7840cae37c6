"""The supervisor stops children and everything they forked, and reports a child that dies early."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from zerosearch.common.errors import ServerError
from zerosearch.common.processes import Supervisor

# A child that forks a grandchild which leaves the process group (as an RQ work horse does with
# setpgrp) and serves HTTP 200 on a port; it writes "<port> <grandchild pid>" once bound.
_SERVER = textwrap.dedent(
    """
    import http.server, os, sys, time
    pid = os.fork()
    if pid == 0:
        os.setpgrp()
        time.sleep(600)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
        def log_message(self, *a): pass
    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    open(sys.argv[1], "w").write(f"{srv.server_address[1]} {pid}")
    srv.serve_forever()
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); read its state to tell.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_children_and_grandchildren_are_stopped(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    with Supervisor(log_dir=tmp_path / "logs") as sup:
        child = sup.start("server", [sys.executable, "-c", _SERVER, str(port_file)])
        for _ in range(200):  # the child writes its port once bound
            if port_file.exists() and " " in port_file.read_text():
                break
            time.sleep(0.05)
        port, grandchild = (int(x) for x in port_file.read_text().split())
        sup.wait_http(child, f"http://127.0.0.1:{port}/", timeout_s=20)
        assert _alive(grandchild) and _pgid(Path(f"/proc/{grandchild}")) != child.process.pid
    assert not _alive(child.process.pid)
    assert not _alive(grandchild)  # outside the group, still stopped
    assert sup.children == []


def _pgid(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


def test_child_that_dies_before_ready_is_reported_with_its_log(tmp_path: Path) -> None:
    with Supervisor(log_dir=tmp_path) as sup:
        child = sup.start("broken", [sys.executable, "-c", "import sys; print('boom at start'); sys.exit(3)"])
        with pytest.raises(ServerError, match="boom at start"):
            sup.wait_http(child, "http://127.0.0.1:9/readyz", timeout_s=20)


_PARENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from zerosearch.common.processes import Supervisor
    with Supervisor(log_dir=Path(sys.argv[1])) as sup:
        child = sup.start("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
        Path(sys.argv[2]).write_text(str(child.process.pid))
        time.sleep(600)
    """
)


def test_sigterm_to_the_parent_stops_its_children(tmp_path: Path) -> None:
    import signal
    import subprocess

    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(tmp_path / "logs"), str(pid_file)])
    for _ in range(400):  # the parent writes its child's pid once started
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert _alive(child)
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) == 128 + signal.SIGTERM  # unwound, not killed outright
    assert not _alive(child)  # no orphan left behind
