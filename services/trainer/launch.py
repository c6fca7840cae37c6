"""Start a multi-process run's ranks as children (``processes: N``) and follow their progress.

The ``train`` job (RQ) and ``zerosearch train run`` call :func:`train`; when the config asks for more
than one process and no launcher started this process, :func:`launch_ranks` runs

    torchrun --standalone --nproc_per_node N -m zerosearch.trainer.launch --config C --result R
    accelerate launch --config_file A --num_processes N -m zerosearch.trainer.launch ...  (accelerate_config)

and, while they train, turns rank 0's ``metrics.jsonl`` lines into job progress; rank 0 writes the run's
summary to ``R`` and the parent returns it. On a cluster the same module (or ``zerosearch.cli train run``)
is started by torchrun in every pod instead (k8s/training/).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zerosearch.common.errors import ConfigError
from zerosearch.common.queue import report_progress
from zerosearch.trainer.config import TrainConfig
from zerosearch.trainer.distributed import current_ranks
from zerosearch.trainer.run_dir import RunDir

__all__ = ["launch_command", "launch_ranks", "main", "needs_launch", "progress_from_metrics"]

log = logging.getLogger(__name__)

_POLL_S = 1.0


def needs_launch(config: TrainConfig) -> bool:
    """Whether this process must start the ranks itself (``processes`` > 1 and no launcher around)."""
    ranks = current_ranks()
    if ranks.distributed:
        if config.processes > 1 and config.processes != ranks.world_size:
            log.info(
                "already rank %d of %d (a launcher started us): processes=%d is not used here",
                ranks.rank, ranks.world_size, config.processes,
            )  # fmt: skip
        return False
    return config.processes > 1


def launch_command(config: TrainConfig, config_file: Path, result_file: Path) -> list[str]:
    """The launcher command line for ``config``'s ranks on this machine."""
    entry = ["-m", "zerosearch.trainer.launch", "--config", str(config_file), "--result", str(result_file)]
    if config.accelerate_config is not None:
        if not Path(config.accelerate_config).is_file():
            raise ConfigError(
                f"accelerate_config {config.accelerate_config} is not a file", param="accelerate_config"
            )
        return [
            sys.executable, "-m", "accelerate.commands.launch",
            "--config_file", str(config.accelerate_config),
            "--num_processes", str(config.processes),
            "--num_machines", "1", "--machine_rank", "0",
            *entry,
        ]  # fmt: skip
    return [
        sys.executable, "-m", "torch.distributed.run",
        "--standalone", "--nnodes", "1", "--nproc_per_node", str(config.processes),
        *entry,
    ]  # fmt: skip


def progress_from_metrics(line: dict[str, Any], total: int, world_size: int) -> dict[str, Any]:
    """The job-meta progress of one ``metrics.jsonl`` line (as MetricsCallback reports in-process)."""
    return {
        "state": "training",
        "step": int(line.get("step", 0)),
        "total": total,
        "ranks": world_size,
        "mean_reward": round(float(line.get("reward", 0.0)), 4),
        "noise_p": round(float(line.get("noise_p", 0.0)), 4),
        "searches_per_rollout": round(float(line.get("searches_per_rollout", 0.0)), 3),
        "tokens_per_s": round(float(line.get("rollout_tokens_per_s", 0.0)), 1),
    }


def _redis_url(conn: Any) -> str | None:
    if conn is None:
        return None
    kwargs = conn.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    password = f":{kwargs['password']}@" if kwargs.get("password") else ""
    return f"redis://{password}{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux: the launcher gets SIGTERM when the job's process dies (a killed RQ work horse), and
    # forwards it to the ranks, which then release the run folder's lock.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setsid()


def _stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM the launcher (it stops its ranks); after 30 s SIGKILL it and every rank.

    torchrun starts each rank in a session of its own, so killing the launcher's group alone would leave
    the ranks training (and holding the run folder's lock).
    """
    import psutil

    try:
        ranks = psutil.Process(child.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        ranks = []
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    for rank in ranks:
        with contextlib.suppress(psutil.NoSuchProcess):
            rank.kill()


def launch_ranks(
    config: TrainConfig, *, conn: Any = None, on_progress: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Run ``config`` on ``config.processes`` child ranks; report their progress; return rank 0's summary."""
    run_dir = RunDir(Path(config.output_dir))
    with tempfile.TemporaryDirectory(prefix="zerosearch-ranks-") as tmp:
        config_file, result_file, log_file = (
            Path(tmp, "config.json"),
            Path(tmp, "result.json"),
            Path(tmp, "ranks.log"),
        )
        config_file.write_text(config.model_dump_json())
        command = launch_command(config, config_file, result_file)
        env = dict(os.environ)
        url = _redis_url(conn)
        if url and not (env.get("ZEROSEARCH_REDIS_URL") or env.get("REDIS_URL")):
            env["ZEROSEARCH_REDIS_URL"] = url  # rank 0 enqueues the eval jobs on the job's Redis
        log.info("launching %d ranks: %s", config.processes, " ".join(command))
        report_progress(state="launching", step=0, total=config.steps, ranks=config.processes)
        with log_file.open("wb") as sink:
            child = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent
            )
        try:
            code = _follow(child, run_dir, log_file, config, on_progress)
        finally:
            if child.poll() is None:  # the job itself was stopped: stop the ranks with it
                _stop(child)
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-40:])
        if code != 0 or not result_file.is_file():
            raise RuntimeError(f"the {config.processes} training ranks exited with code {code}:\n{tail}")
        return json.loads(result_file.read_text())


def _follow(
    child: subprocess.Popen[bytes],
    run_dir: RunDir,
    log_file: Path,
    config: TrainConfig,
    on_progress: Callable[[dict[str, Any]], None] | None,
) -> int:
    """Relay the ranks' log and their new metrics lines until the launcher exits; its exit code."""
    seen, offset = 0, 0
    while True:
        code = child.poll()
        with log_file.open("rb") as source:
            source.seek(offset)
            chunk = source.read()
        offset += len(chunk)
        for text in chunk.decode(errors="replace").splitlines():
            log.info("[ranks] %s", text)
        lines = run_dir.read_metrics() if run_dir.metrics_file.is_file() else []
        for line in lines[seen:]:
            progress = progress_from_metrics(line, config.steps, config.processes)
            report_progress(**progress)
            if on_progress is not None:
                on_progress(progress)
        seen = max(seen, len(lines))
        if code is not None:
            return code
        time.sleep(_POLL_S)


def main(argv: list[str] | None = None) -> int:
    """One rank: train the JSON config; rank 0 writes the summary to ``--result``."""
    from zerosearch.common.connection import connect
    from zerosearch.common.log import setup_logging
    from zerosearch.common.settings import get_common_settings
    from zerosearch.trainer.config import parse_train_config
    from zerosearch.trainer.grpo import train

    parser = argparse.ArgumentParser(prog="python -m zerosearch.trainer.launch", description=main.__doc__)
    parser.add_argument("--config", required=True, type=Path, help="The run config (JSON or YAML).")
    parser.add_argument("--result", type=Path, help="Where rank 0 writes the run's summary (JSON).")
    args = parser.parse_args(argv)
    setup_logging()
    from zerosearch.common.config_file import read_config_file

    config = parse_train_config(read_config_file(args.config), source=args.config.name)
    url = get_common_settings().redis_url
    result = train(config, conn=connect(url) if url else None)
    if args.result is not None and current_ranks().is_main:
        staging = args.result.with_suffix(".partial")
        staging.write_text(json.dumps(result, default=str))
        os.replace(staging, args.result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
