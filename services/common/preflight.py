"""Checks a verb runs before it starts a process or loads a model: files, model, port, Redis.

Each check is cheap (no torch, no model load) and raises one of our errors whose message names the
missing thing and says what to do, so the CLI prints one red line instead of failing minutes later in a
child process.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable
from pathlib import Path

from zerosearch.common.connection import connect
from zerosearch.common.defaults import BUNDLED_MODEL_ALIASES
from zerosearch.common.errors import ConfigError, DatasetError, ModelNotFoundError
from zerosearch.common.models import bundled_gguf_path

__all__ = ["DATA_HINT", "require_data", "require_file", "require_model", "require_port_free", "require_redis"]

DATA_HINT = "restore data/ in the checkout (git checkout -- data) or set ZEROSEARCH_DATA_DIR to a folder with qa/ and corpus/"
"""What to do when the offline data is missing."""


def require_file(path: Path, what: str, hint: str, *, param: str | None = None) -> Path:
    """``path`` as a file, or a DatasetError ``<what> not found: <path>; <hint>``."""
    if not Path(path).is_file():
        raise DatasetError(f"{what} not found: {path}; {hint}", param=param)
    return Path(path)


def require_data(data_dir: Path | None, datasets: Iterable[str] = (), *, corpus: bool = False) -> Path:
    """The offline data folder with ``qa/<name>.jsonl`` for each dataset (and the BM25 corpus)."""
    if data_dir is None or not Path(data_dir).is_dir():
        raise DatasetError(
            f"no offline data folder ({data_dir or 'none found'}); {DATA_HINT}", param="data_dir"
        )
    folder = Path(data_dir)
    for name in datasets:
        require_file(folder / "qa" / f"{name}.jsonl", f"dataset {name}", DATA_HINT, param="datasets")
    if corpus:
        require_file(folder / "corpus" / "wiki_mini.jsonl", "passage corpus", DATA_HINT, param="corpus")
    return folder


def require_model(spec: str) -> None:
    """The model can be found without loading it: the bundled package, a local folder or file, a hub id."""
    text = str(spec).strip()
    if text.lower() in BUNDLED_MODEL_ALIASES:
        bundled_gguf_path()  # raises ModelNotFoundError naming the package to install
        return
    path = Path(text).expanduser()
    if text.endswith(".gguf") and not path.is_file():
        raise ModelNotFoundError(f"model file not found: {text}; give an existing .gguf file", param="model")
    if path.is_dir() and not (path / "config.json").is_file():
        raise ModelNotFoundError(f"model folder has no config.json: {path}", param="model")
    if text.startswith((".", "/", "~")) and not path.exists():
        raise ModelNotFoundError(
            f"model path not found: {text}; give a folder, a .gguf file or a hub id", param="model"
        )


def require_port_free(host: str, port: int, *, param: str = "port") -> None:
    """Nothing listens on ``host:port`` yet (binding it briefly is the only reliable test)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                message = f"{host}:{port} is already in use; pick another port or stop what listens there"
            else:
                message = f"cannot listen on {host}:{port} ({exc.strerror}); check --host and --port"
            raise ConfigError(f"--{param} {port}: {message}", param=param) from None


def require_redis(url: str) -> None:
    """Redis at ``url`` answers a PING (RedisUnavailableError naming the URL otherwise)."""
    connect(url).close()
