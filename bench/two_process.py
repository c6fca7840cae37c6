"""Two CPU processes at once: one ``zerosearch eval run`` alone vs two started together, wall times side by side.

Each process is a real CLI run on the bundled model (load included), on the same questions. ``policy`` runs
``zerosearch eval run`` as a user does: the CLI sets its thread policy (passive OpenMP waiting, threads =
the cores it may use). ``control`` (with ``--control``) runs the same verb without the root callback and
with the thread variables removed, i.e. torch's and libgomp's defaults as they were before the policy.
Run it on an otherwise idle machine (the load average is printed before and after):

    flock /tmp/zs-cpu.lock .venv/bin/python bench/two_process.py --questions 8 --method direct --control
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]

log = logging.getLogger("bench.two_process")

_THREAD_VARS = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "ZEROSEARCH_THREADS")
# The eval verb without the root callback: no thread policy, libgomp and torch defaults.
_WITHOUT_POLICY = (
    "import sys, typer; from zerosearch.evaluator.cli import eval_app; "
    "typer.main.get_command(eval_app)(['run', *sys.argv[1:]])"
)


def _command(variant: str, eval_args: list[str]) -> list[str]:
    if variant == "policy":
        return [sys.executable, "-m", "zerosearch.cli", "eval", "run", *eval_args]
    return [sys.executable, "-c", _WITHOUT_POLICY, *eval_args]


def _run_together(variant: str, eval_args: list[str], copies: int, out: Path) -> list[float]:
    """Start ``copies`` processes at the same moment; the wall time of each, load and exit included."""
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARS}
    env["HF_HUB_OFFLINE"] = "1"
    started, processes = time.perf_counter(), []
    for index in range(copies):
        folder = out / f"{variant}-{copies}-{index}"
        log_file = open(out / f"{folder.name}.log", "wb")  # noqa: SIM115 - closed below
        command = _command(variant, [*eval_args, "--out", str(folder)])
        processes.append((subprocess.Popen(command, stdout=log_file, stderr=log_file, env=env), log_file))
    times = []
    for process, log_file in processes:
        code = process.wait()
        times.append(time.perf_counter() - started)
        log_file.close()
        if code != 0:
            raise SystemExit(f"{variant}: exit {code}; see {log_file.name}")
    return times


def main() -> None:
    """Run alone and two-at-once for each variant and print wall times, ratios and the load average."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=8, help="NQ questions per process")
    parser.add_argument("--method", default="direct", choices=["direct", "rag", "agent"])
    parser.add_argument("--control", action="store_true", help="also run without the thread policy")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    eval_args = _eval_args(args.questions, args.method)
    variants = ["policy", "control"] if args.control else ["policy"]
    with tempfile.TemporaryDirectory(prefix="zs-two-process-") as tmp:
        out = Path(tmp)
        # Warm-up (not timed): the converted model and any search index are in the cache afterwards.
        _run_together("policy", _eval_args(1, args.method), 1, out)
        load_before = os.getloadavg()
        rows = []
        for variant in variants:
            alone = _run_together(variant, eval_args, 1, out)[0]
            pair = _run_together(variant, eval_args, 2, out)
            rows.append((variant, alone, pair))
        load_after = os.getloadavg()
    cores = len(os.sched_getaffinity(0))
    log.info("%d cores, %d questions, method %s", cores, args.questions, args.method)
    log.info("%-8s %10s %22s %8s", "variant", "alone s", "two at once s (each)", "ratio")
    for variant, alone, pair in rows:
        both = " / ".join(f"{t:.1f}" for t in pair)
        log.info("%-8s %10.1f %22s %7.2fx", variant, alone, both, max(pair) / alone)
    log.info("load average (1, 5, 15 min) before %s, after %s", _load(load_before), _load(load_after))


def _eval_args(questions: int, method: str) -> list[str]:
    return ["--model", "smollm2-135m", "--datasets", "nq", "--limit", str(questions), "--method", method]


def _load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    main()
