"""Locate or build llama.cpp's ``llama-server``, the process behind the ``llamacpp`` engine.

No binary is downloaded from anywhere but PyPI: the llama.cpp source ships inside the ``llama-cpp-python``
sdist, pinned by :data:`LLAMA_CPP_PYTHON_VERSION`. The lookup order of :func:`llama_server_binary`:

1. the configured path (``ZEROSEARCH_LLAMA_SERVER_PATH`` / ``llama_server_path``), which must work;
2. ``llama-server`` on ``PATH``;
3. our cache, ``<cache_dir>/llama.cpp/<version>-<build tag>/bin/llama-server``;
4. a build into that cache (once; a file lock keeps two processes from building together):
   ``pip download`` the sdist, then CMake (static, Release, no curl) of the ``llama-server`` target.

    path = llama_server_binary(None)           # locate, else build (about 5 minutes on 2 cores, once)
    path = build_llama_server()                # what `zerosearch simulator build-llama-server` runs
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from filelock import FileLock

from zerosearch.common.errors import EngineError

__all__ = [
    "BUILD_TAG",
    "LLAMA_CPP_PYTHON_VERSION",
    "build_llama_server",
    "cached_llama_server",
    "find_llama_server",
    "llama_server_binary",
]

log = logging.getLogger(__name__)

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
"""The ``llama-cpp-python`` sdist whose vendored llama.cpp we build (one pin for the whole platform)."""

BUILD_TAG = "no-amx"
"""What our build changes from llama.cpp's defaults; part of the cache folder, so a changed build is rebuilt.

``-march=native`` turns on Intel AMX where the CPU reports it, and llama.cpp then moves quantised weights
into AMX tiles; on virtual machines that report AMX without granting it, the first matrix product dies
with SIGILL (measured: a Xeon VM with ``amx_tile`` in /proc/cpuinfo). x86 builds leave AMX out; the
AVX-512/AVX2 kernels stay."""
_X86_FLAGS = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

BINARY_NAME = "llama-server"
_HOW_TO_POINT = (
    "or point ZEROSEARCH_LLAMA_SERVER_PATH (--llama-server-path) at an existing llama-server binary"
)


def _cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is None:
        from zerosearch.common.settings import get_common_settings

        cache_dir = get_common_settings().cache_dir
    return Path(cache_dir).expanduser() / "llama.cpp" / f"{LLAMA_CPP_PYTHON_VERSION}-{BUILD_TAG}"


def cached_llama_server(cache_dir: Path | None = None) -> Path:
    """Where our build of ``llama-server`` lives (it may not exist yet)."""
    return _cache_root(cache_dir) / "bin" / BINARY_NAME


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_llama_server(
    configured: str | os.PathLike[str] | None, cache_dir: Path | None = None
) -> Path | None:
    """The binary by the lookup order without building: configured path, ``PATH``, then our cache.

    A configured path that is not an executable file is an error (never silently skipped).
    """
    if configured is not None and str(configured).strip():
        path = Path(configured).expanduser()
        if not _executable(path):
            raise EngineError(
                f"llama_server_path {str(path)!r} is not an executable file: fix ZEROSEARCH_LLAMA_SERVER_PATH "
                "or unset it to use llama-server from PATH or our own build"
            )
        return path
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return Path(on_path)
    cached = cached_llama_server(cache_dir)
    return cached if _executable(cached) else None


def llama_server_binary(
    configured: str | os.PathLike[str] | None, *, build: bool = True, cache_dir: Path | None = None
) -> Path:
    """The ``llama-server`` to run: found by :func:`find_llama_server`, else built when ``build``."""
    found = find_llama_server(configured, cache_dir)
    if found is not None:
        return found
    if not build:
        raise EngineError(
            f"llama-server not found (not on PATH, not in {cached_llama_server(cache_dir)}): run "
            f"`zerosearch simulator build-llama-server` {_HOW_TO_POINT}"
        )
    return build_llama_server(cache_dir)


def _require_tools() -> tuple[str, str | None]:
    """cmake and a C++ compiler (and ninja when present); a missing one is a one-line EngineError."""
    cmake = shutil.which("cmake")
    compiler = os.environ.get("CXX") or next(
        (found for name in ("c++", "g++", "clang++") if (found := shutil.which(name))), None
    )
    missing = [
        name for name, found in (("cmake", cmake), ("a C++ compiler (g++ or clang++)", compiler)) if not found
    ]
    if missing or cmake is None:
        raise EngineError(
            f"cannot build llama-server: {' and '.join(missing)} not found; install them (apt-get install "
            f"cmake g++) {_HOW_TO_POINT}"
        )
    return cmake, shutil.which("ninja")


def _run(command: list[str], what: str, log_path: Path) -> None:
    with open(log_path, "ab") as out:
        done = subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False
        )
    if done.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise EngineError(
            f"building llama-server failed at {what} (exit {done.returncode}); log {log_path}:\n{tail}"
        )


def _download_sdist(folder: Path, log_path: Path) -> Path:
    """``pip download`` the pinned sdist into ``folder``; returns the archive."""
    spec = f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}"
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "-d",
        str(folder),
        spec,
    ]
    try:
        _run(command, f"`pip download {spec}` (is PyPI reachable?)", log_path)
    except EngineError as exc:
        raise EngineError(f"{exc}\n{_HOW_TO_POINT}") from None
    archives = sorted(folder.glob("llama_cpp_python-*.tar.gz"))
    if not archives:
        raise EngineError(f"pip download {spec} gave no sdist in {folder}; {_HOW_TO_POINT}")
    return archives[0]


def _unpack(archive: Path, folder: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    sources = next(folder.glob("llama_cpp_python-*/vendor/llama.cpp"), None)
    if sources is None or not (sources / "tools" / "server").is_dir():
        raise EngineError(f"{archive.name} holds no vendor/llama.cpp/tools/server: cannot build llama-server")
    return sources


def build_llama_server(
    cache_dir: Path | None = None, *, jobs: int | None = None, force: bool = False
) -> Path:
    """Build ``llama-server`` from the pinned ``llama-cpp-python`` sdist into our cache; returns its path.

    Static (the binary stands alone), Release, for this machine's CPU. Another process building at the same
    time is waited for, and its result used.
    """
    target = cached_llama_server(cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent.parent / "build.lock")):
        if _executable(target) and not force:
            return target
        cmake, ninja = _require_tools()
        jobs = jobs or os.cpu_count() or 1
        log.warning(
            "building llama-server from llama-cpp-python %s (PyPI), about 5 minutes on 2 cores, once; into %s",
            LLAMA_CPP_PYTHON_VERSION,
            target,
        )
        log_path = target.parent.parent / "build.log"
        log_path.write_text("")
        with tempfile.TemporaryDirectory(prefix="llama-build-") as tmp:
            work = Path(tmp)
            sources = _unpack(_download_sdist(work, log_path), work)
            build = work / "build"
            configure = [
                cmake, "-S", str(sources), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                "-DLLAMA_BUILD_EXAMPLES=OFF", "-DBUILD_SHARED_LIBS=OFF",
            ]  # fmt: skip
            if ninja:
                configure += ["-G", "Ninja"]
            if platform.machine().lower() in {"x86_64", "amd64"}:  # explicit -mno-* win over -march=native
                configure += [f"-DCMAKE_C_FLAGS={_X86_FLAGS}", f"-DCMAKE_CXX_FLAGS={_X86_FLAGS}"]
            _run(configure, "cmake configure", log_path)
            _run(
                [cmake, "--build", str(build), "--target", BINARY_NAME, "-j", str(jobs)],
                "cmake build",
                log_path,
            )
            built = next(build.glob(f"bin/{BINARY_NAME}"), None)
            if built is None:
                raise EngineError(f"the build finished without bin/{BINARY_NAME}; log {log_path}")
            partial = target.with_suffix(".partial")
            shutil.copy2(built, partial)
            partial.replace(target)  # atomic: a reader never sees half a binary
        log.warning("llama-server built: %s", target)
    return target
