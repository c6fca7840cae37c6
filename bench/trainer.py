"""Trainer benchmark: seconds per GRPO step, rollout tokens/s, and a search batch concurrent vs one by one.

Everything is measured in one run on this machine, against a live simulator process (bundled model):

1. The same 4 search requests sent to the simulator one by one, then as one concurrent batch
   (``search_many``: what the agent loop does each turn); the ratio is the speed-up.
2. A short GRPO run (cold start first, so that the policy searches): 8 rollouts a step
   (2 questions × group of 4); seconds per step (excluding the first, which warms up) and model tokens
   per second of rollout time, read back from metrics.jsonl.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/trainer.py [--steps 4] [--keep DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from zerosearch.common.processes import Supervisor, zerosearch_command
from zerosearch.common.search.base import SearchRequest, run_sync
from zerosearch.common.search.factory import make_backend
from zerosearch.trainer.config import parse_train_config
from zerosearch.trainer.grpo import train

log = logging.getLogger("bench.trainer")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def search_ratio(url: str, n: int = 4) -> tuple[float, float]:
    """Seconds for ``n`` simulator searches one by one, then concurrently (distinct queries: no cache hits)."""
    # A generous per-attempt timeout: a CPU simulator may need minutes for a batch; we time, not retry.
    backend = make_backend("simulator", url=url, timeout_s=600, retries=1)

    def requests(tag: str) -> list[SearchRequest]:
        return [SearchRequest(query=f"{tag} history of city {i}", k=1, noise=0.5, seed=i) for i in range(n)]

    run_sync(backend.search_many(requests("warm")))  # load the engine's kernels once
    start = time.perf_counter()
    for request in requests("serial"):
        run_sync(backend.search(request))
    serial = time.perf_counter() - start
    start = time.perf_counter()
    run_sync(backend.search_many(requests("batch")))
    concurrent = time.perf_counter() - start
    return serial, concurrent


def grpo_steps(url: str, out: Path, steps: int) -> list[dict]:
    """A short GRPO run of 8 rollouts a step; returns its metrics lines."""
    config = parse_train_config(
        {
            "model": "smollm2-135m",
            "simulator_url": url,
            "datasets": ["nq"],
            "train_limit": 32,
            "num_generations": 4,
            "prompts_per_step": 2,  # 8 rollouts a step (the target unit)
            "steps": steps,
            "learning_rate": 1e-5,
            "beta": 0.0,
            "max_turns": 1,
            "top_k": 1,
            "max_new_tokens": 40,
            "max_completion_length": 192,
            "checkpoint_interval": steps,
            "cold_start": {
                "enabled": True,
                "examples": 4,
                "epochs": 2,
                "batch_size": 8,
                "learning_rate": 2e-4,
            },
            "eval": {"enabled": False},
            "output_dir": str(out),
        }
    )
    train(config)
    from zerosearch.trainer.run_dir import RunDir

    return RunDir(out).read_metrics()


def main() -> None:
    """Run both measurements and print the figures for docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="GRPO steps (the first is a warm-up).")
    parser.add_argument("--keep", type=Path, default=None, help="Keep the run folder here.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    work = Path(tempfile.mkdtemp(prefix="bench-trainer-"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with Supervisor(log_dir=work / "logs") as sup:
        command = zerosearch_command(
            "simulator", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--engine", "transformers", "--model", "smollm2-135m", "--max-new-tokens", "48",
        )  # fmt: skip
        sup.wait_http(sup.start("simulator", command), f"{url}/readyz", timeout_s=300)
        serial, concurrent = search_ratio(url)
        print(f"search batch of 4: one by one {serial:.2f} s, concurrent {concurrent:.2f} s, "
              f"ratio {serial / concurrent:.2f}x")  # fmt: skip
        metrics = grpo_steps(url, args.keep or work / "run", args.steps)
    timed = metrics[1:] or metrics  # the first step pays for warm-up
    step_s = statistics.median(m["step_seconds"] for m in timed)
    tokens_s = statistics.median(m["rollout_tokens_per_s"] for m in timed)
    searches = statistics.mean(m["searches_per_rollout"] for m in metrics)
    print(f"GRPO step, 8 rollouts: median {step_s:.1f} s/step over steps 2..{len(metrics)}; "
          f"rollout {tokens_s:.1f} model tokens/s; {searches:.2f} searches per rollout")  # fmt: skip
    for m in metrics:
        print(f"  step {m['step']}: {m['step_seconds']:.1f} s, rollout {m['rollout_seconds']:.1f} s, "
              f"{m['rollout_tokens_per_s']:.1f} tok/s, reward {m['reward']:.3f}, p {m['noise_p']:.4f}")  # fmt: skip
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
