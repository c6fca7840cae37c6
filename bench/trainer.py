"""Trainer benchmark: seconds per GRPO step (and where they go), search batch concurrent vs one by one,
and the machine's floor for such a step. Everything is measured in one run, against a live simulator
process on the bundled model:

1. The same 4 search requests sent to the simulator one by one, then as one concurrent batch
   (``search_many``: what the agent loop does each turn); the ratio is the speed-up.
2. A short GRPO run in the shape of ``configs/cpu-tiny.yaml`` (the demo's training): 8 rollouts a step
   (2 questions × group of 4), top_k 3, ≤ 48 new tokens a turn, the simulator writing ≤ 96 tokens a
   search. A small cold start first, so that the policy searches. Per step: seconds, split into policy
   generation, simulator search and the optimizer part (forward + backward), and model tokens/s.
3. The floor: one decoding step of the bundled model at batch 8, prefill tokens/s, and forward+backward
   over 8 sequences, timed in-process; with the step's shape they bound how fast a step can be here.

Each figure is printed with its ratio to the previous record (:data:`PREVIOUS`, docs/benchmarks.md).
The simulator runs the demo's engine (``llamacpp`` when llama-server is found or can be built, else
``transformers``; ``--engine`` chooses). Training questions: NQ past the demo's held-out 30, offline.

``--shared-documents none step`` runs the GRPO part once per mode (the same seed and questions) and prints
each mode's step and its ratio to the first: ``step`` gives a step's identical queries one simulator call.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/trainer.py [--steps 4] [--keep DIR] [--engine E]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from zerosearch.common.allocator import keep_freed_memory
from zerosearch.common.config_file import read_config_file
from zerosearch.common.connection import free_port
from zerosearch.common.processes import Supervisor, zerosearch_command
from zerosearch.common.search.base import SearchRequest, run_sync
from zerosearch.common.search.factory import make_backend
from zerosearch.demo import simulator_engine
from zerosearch.trainer.config import parse_train_config
from zerosearch.trainer.grpo import train

log = logging.getLogger("bench.trainer")
ROOT = Path(__file__).resolve().parents[1]
SIMULATOR_TOKENS = 96  # what the demo's simulator writes a search (3 short documents)
PREVIOUS = {"step": 65.0, "generate": 20.5, "search": 18.6, "optimize": 30.0}
"""Medians of the previous record (2026-11-25, transformers simulator, TRL's LM head on CPU)."""


def _ratio(key: str, seconds: float) -> str:
    return f"{seconds:.1f} s ({seconds / PREVIOUS[key]:.2f}× the previous {PREVIOUS[key]:.1f} s)"


def _train_file(work: Path) -> Path:
    """NQ questions past the demo's first 30 held-out ones, as a local train file (no hub access)."""
    from zerosearch.common.settings import get_common_settings

    source = Path(get_common_settings().data_dir or ROOT / "data") / "qa" / "nq.jsonl"
    target = work / "train-nq.jsonl"
    target.write_text("".join(source.read_text().splitlines(keepends=True)[30:158]))
    return target


def search_ratio(url: str, n: int = 4) -> tuple[float, float]:
    """Seconds for ``n`` simulator searches one by one, then concurrently (distinct queries: no cache hits)."""
    # A generous per-attempt timeout: a CPU simulator may need minutes for a batch; we time, not retry.
    backend = make_backend("simulator", url=url, timeout_s=600, retries=1)

    def requests(tag: str) -> list[SearchRequest]:
        return [SearchRequest(query=f"{tag} history of city {i}", k=3, noise=0.5, seed=i) for i in range(n)]

    run_sync(backend.search_many(requests("warm")))  # load the engine's kernels once
    start = time.perf_counter()
    for request in requests("serial"):
        run_sync(backend.search(request))
    serial = time.perf_counter() - start
    start = time.perf_counter()
    run_sync(backend.search_many(requests("batch")))
    concurrent = time.perf_counter() - start
    return serial, concurrent


def grpo_steps(url: str, out: Path, steps: int, shared_documents: str = "none") -> list[dict]:
    """A short GRPO run shaped like configs/cpu-tiny.yaml; returns its metrics lines."""
    payload = read_config_file(ROOT / "configs" / "cpu-tiny.yaml")
    payload.update(
        simulator_url=url,
        datasets=[str(_train_file(out.parent))],
        steps=steps,
        checkpoint_interval=steps,
        output_dir=str(out),
        eval={"enabled": False},
        shared_documents=shared_documents,
        # A small cold start (the demo's 40 demonstrations take minutes): enough for the format.
        cold_start={**payload["cold_start"], "examples": 8, "epochs": 2, "learning_rate": 2e-4},
    )
    train(parse_train_config(payload))
    from zerosearch.trainer.run_dir import RunDir

    return RunDir(out).read_metrics()


def floor(rows: int = 8, length: int = 200) -> dict[str, float]:
    """This machine's costs for the bundled model: a decoding step, prefill, forward + backward."""
    import torch

    from zerosearch.common.models import load_causal_lm

    model, _ = load_causal_lm("smollm2-135m")
    ids = torch.randint(100, 40_000, (rows, length))

    def generate(new: int) -> float:
        model.eval()
        with torch.inference_mode():
            start = time.perf_counter()
            model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new,
                           min_new_tokens=new, do_sample=False, pad_token_id=0)  # fmt: skip
            return time.perf_counter() - start

    generate(2)  # warm-up
    prefill, longer = generate(1), generate(33)
    model.train()
    start = time.perf_counter()
    model(input_ids=ids, labels=ids).loss.backward()
    backward = time.perf_counter() - start
    return {
        "decode_ms": (longer - prefill) / 32 * 1000,
        "prefill_tok_s": rows * length / prefill,
        "fwd_bwd_s": backward,
        "rows": rows,
        "length": length,
    }


def main() -> None:
    """Run the three measurements and print the figures for docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="GRPO steps (the first is a warm-up).")
    parser.add_argument(
        "--keep", type=Path, default=None, help="Keep the run folders (run-<mode>) under here."
    )
    parser.add_argument("--engine", default=None, help="Simulator engine (default: the demo's).")
    parser.add_argument("--shared-documents", nargs="+", default=["none"], choices=["none", "step", "run"],
                        help="GRPO once per mode (default: none, the paper's fresh documents).")  # fmt: skip
    parser.add_argument("--malloc-defaults", action="store_true",
                        help="Leave glibc's allocator thresholds alone (the CLI's keep_freed_memory is off).")  # fmt: skip
    args = parser.parse_args()
    if not args.malloc_defaults:  # as every zerosearch command does (common/allocator.py)
        keep_freed_memory()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    log.info("load: %s", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    work = Path(tempfile.mkdtemp(prefix="bench-trainer-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    engine = args.engine or simulator_engine()
    log.info("simulator engine: %s", engine)
    with Supervisor(log_dir=work / "logs") as sup:
        command = zerosearch_command(
            "simulator", "serve", "--host", "127.0.0.1", "--port", str(port), "--engine", engine,
            "--model", "smollm2-135m", "--max-new-tokens", str(SIMULATOR_TOKENS),
        )  # fmt: skip
        sup.wait_http(sup.start("simulator", command), f"{url}/readyz", timeout_s=300)
        serial, concurrent = search_ratio(url)
        log.info("search batch of 4 (k=3): one by one %.2f s, concurrent %.2f s, ratio %.2fx",
                 serial, concurrent, serial / concurrent)  # fmt: skip
        runs = {}
        for mode in args.shared_documents:
            out = (args.keep or work) / f"run-{mode}"
            out.parent.mkdir(parents=True, exist_ok=True)
            runs[mode] = grpo_steps(url, out, args.steps, mode)
    costs = floor()
    first: float | None = None
    for mode, metrics in runs.items():
        step_s = _report(mode, metrics)
        first = first or step_s
        log.info("  shared_documents=%s: step median %.1f s, %.2f× the %s run's", mode, step_s, step_s / first,
                 args.shared_documents[0])  # fmt: skip
    _report_floor(costs)
    log.info("load: %s", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


def _report(mode: str, metrics: list[dict]) -> float:
    """Print one GRPO run's step medians and per-step lines; return the median step seconds."""
    timed = metrics[1:] or metrics  # the first step pays for warm-up

    def median(key: str) -> float:
        return statistics.median(m[key] for m in timed)

    step_s, generate_s, search_s = (
        median("step_seconds"),
        median("generate_seconds"),
        median("search_seconds"),
    )
    optimize_s = statistics.median(m["step_seconds"] - m["rollout_seconds"] for m in timed)
    log.info("GRPO step, 8 rollouts, shared_documents=%s: median %s over steps 2..%d",
             mode, _ratio("step", step_s), len(metrics))  # fmt: skip
    log.info("  medians of its parts: generation %s, search %s, forward/backward/optimizer %s; other "
             "rollout %.1f s; rollout %.1f model tokens/s",
             _ratio("generate", generate_s), _ratio("search", search_s), _ratio("optimize", optimize_s),
             median("rollout_seconds") - generate_s - search_s, median("rollout_tokens_per_s"))  # fmt: skip
    for m in metrics:
        log.info("  step %d: %.1f s (generate %.1f, search %.1f, optimize %.1f), %.2f searches/rollout, "
                 "%d model + %d inserted tokens, reward %.3f, p %.4f",
                 m["step"], m["step_seconds"], m["generate_seconds"], m["search_seconds"],
                 m["step_seconds"] - m["rollout_seconds"], m["searches_per_rollout"], m["model_tokens"],
                 m["inserted_tokens"], m["reward"], m["noise_p"])  # fmt: skip
    return step_s


def _report_floor(costs: dict[str, float]) -> None:
    log.info("floor (bundled model, fp32, this machine): one decoding step at batch %d %.0f ms; prefill "
             "%.0f tokens/s; forward+backward over %d×%d tokens %.1f s",
             costs["rows"], costs["decode_ms"], costs["prefill_tok_s"], costs["rows"], costs["length"],
             costs["fwd_bwd_s"])  # fmt: skip
    decode_steps = 48 + SIMULATOR_TOKENS + 48  # search turn, the simulator's documents, answer turn
    log.info("  a step decodes up to %d tokens in sequence: ≥ %.1f s of decoding at batch 8, before any "
             "prefill or training", decode_steps, decode_steps * costs["decode_ms"] / 1000)  # fmt: skip


if __name__ == "__main__":
    main()
