"""llama-server's flash attention, on or off: whichever is faster on this machine, measured once and cached.

llama.cpp's CPU flash-attention kernel is faster on some CPUs and much slower on others. On the 2-core AMD
EPYC VM it gave 170 against 137 tok/s (16 slots); on the 2-core Intel Xeon VM one 96-token search took
2.6 s with it and 1.5 s without, and 8 concurrent searches 16.5 s against 9.8 s (docs/benchmarks.md). So
``flash_attention="measure"`` (the default) times both once per machine: a 2-slot llama-server each, side
by side, rounds alternating between them, the same seeded simulator prompts, every generation forced to
the same length (~20 s). The faster is kept in a small JSON record under
``<cache_dir>/llama.cpp/flash-attention/``, keyed by the binary, the model file, the CPU and the thread
count; a file lock keeps two simulators from measuring at once.

    setting = await measured_flash_attention(settings, tokenizer, binary, model)   # "on" or "off"
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

if TYPE_CHECKING:
    from zerosearch.simulator.settings import SimulatorSettings

__all__ = ["PROBE_ROUNDS", "PROBE_TOKENS", "measured_flash_attention", "read_record", "record_path"]

log = logging.getLogger(__name__)

SETTINGS = ("on", "off")
PROBE_SLOTS = 2
PROBE_ROUNDS = 3
"""Rounds per setting, alternating between the two servers; each setting's fastest round counts."""
PROBE_TOKENS = 48
"""New tokens each probe generation is forced to: a demo search writes 96."""


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def record_path(
    cache_dir: Path, binary: Path, model: Path, threads: int | None, extra_args: tuple[str, ...]
) -> Path:
    """Where the measured choice for this binary, model, CPU and thread count is kept."""
    binary_stat, model_stat = binary.resolve().stat(), model.resolve().stat()
    key = {
        "binary": [str(binary.resolve()), binary_stat.st_size, binary_stat.st_mtime_ns],
        "model": [str(model.resolve()), model_stat.st_size],
        "cpu": [cpu_name(), os.cpu_count()],
        "threads": threads,
        "extra_args": list(extra_args),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir).expanduser() / "llama.cpp" / "flash-attention" / f"{digest}.json"


def read_record(path: Path) -> str | None:
    """The setting kept in ``path``; None when there is none or it is not a valid record (then it is re-measured)."""
    try:
        setting = json.loads(path.read_text()).get("flash_attention")
    except (OSError, ValueError, AttributeError):
        return None
    return setting if setting in SETTINGS else None


async def _seconds(
    settings: SimulatorSettings, tokenizer: Any, extra_args: tuple[str, ...]
) -> dict[str, float]:
    """The best round of each setting. Both servers run side by side and their rounds alternate, so a load
    that comes and goes (workers starting beside the simulator) weighs on both alike."""
    from zerosearch.simulator.engines.llamacpp import LlamaCppEngine  # the engine imports this module

    engines = {
        setting: LlamaCppEngine(
            settings.model_copy(
                update={
                    "flash_attention": setting,
                    "max_batch_size": PROBE_SLOTS,
                    "max_new_tokens": PROBE_TOKENS,
                }
            ),
            tokenizer=tokenizer,
            extra_args=extra_args,
        )
        for setting in SETTINGS
    }
    seconds = dict.fromkeys(SETTINGS, float("inf"))
    try:
        for engine in engines.values():
            await engine.start()
        for r in range(PROBE_ROUNDS):
            for setting, engine in engines.items():
                seconds[setting] = min(seconds[setting], await engine.timed_round(f"probe {r}", PROBE_TOKENS))
    finally:
        for engine in engines.values():
            await engine.aclose()
    return seconds


async def measured_flash_attention(
    settings: SimulatorSettings, tokenizer: Any, binary: Path, model: Path, extra_args: tuple[str, ...] = ()
) -> str:
    """``on`` or ``off``: the choice kept for this machine, else both measured now (~20 s) and the faster kept.

    A cache folder that cannot be written (a read-only container) costs the measurement at every start,
    never the start itself."""
    path = record_path(settings.cache_dir, binary, model, settings.threads, extra_args)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path.with_suffix(".lock")), thread_local=False)  # taken in a worker thread
        await asyncio.to_thread(lock.acquire)  # a second simulator waits here, then reads the record
    except OSError as exc:
        log.warning(
            "cannot keep the flash-attention measurement in %s (%s): measuring without it", path.parent, exc
        )
        return await _measure(settings, tokenizer, extra_args, None)
    try:
        setting = read_record(path)
        if setting is not None:
            log.info("llama-server flash attention %s (measured on this machine earlier: %s)", setting, path)
            return setting
        return await _measure(settings, tokenizer, extra_args, path)
    finally:
        lock.release()


async def _measure(
    settings: SimulatorSettings, tokenizer: Any, extra_args: tuple[str, ...], path: Path | None
) -> str:
    """Time both settings now, keep the record at ``path`` (when given and writable), return the faster."""
    log.info("measuring llama-server with flash attention on and off (once on this machine)")
    seconds = await _seconds(settings, tokenizer, extra_args)
    setting = min(SETTINGS, key=seconds.__getitem__)
    log.info(
        "llama-server flash attention %s: a probe round took %.2f s on, %.2f s off (kept in %s)",
        setting, seconds["on"], seconds["off"], path,
    )  # fmt: skip
    if path is None:
        return setting
    record = {
        "flash_attention": setting,
        "seconds": seconds,
        "probe": {"slots": PROBE_SLOTS, "new_tokens": PROBE_TOKENS, "rounds": PROBE_ROUNDS},
        "cpu": cpu_name(),
        "model": settings.model,
        "threads": settings.threads,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        partial = path.with_suffix(".part")
        partial.write_text(json.dumps(record, indent=1) + "\n")
        partial.replace(path)
    except OSError as exc:
        log.warning("could not keep the flash-attention measurement in %s: %s", path, exc)
    return setting
