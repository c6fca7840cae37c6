"""Evaluator throughput: batched vs one-question-at-a-time agent loops, measured side by side in one run.

Same model (bundled SmolLM2-135M), same BM25 backend, same questions and greedy settings; only the batch
size differs. Prints questions/s of each and their ratio, plus the machine load (other jobs share the CPU).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/evaluator.py --questions 16 --batch-size 16
"""

from __future__ import annotations

import argparse
import logging
import os
import time

__all__ = ["main"]


def _timed(policy, backend, items, config, batch_size: int) -> tuple[float, list]:  # type: ignore[no-untyped-def]
    from zerosearch.common.agent import run_rollouts

    start = time.perf_counter()
    trajectories = []
    for i in range(0, len(items), batch_size):
        trajectories.extend(run_rollouts(policy, backend, items[i : i + batch_size], config))
    return time.perf_counter() - start, trajectories


def main() -> None:
    """Run the comparison and print one line per variant and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=16, help="NQ questions (deterministic sample)")
    parser.add_argument("--batch-size", type=int, default=16, help="batch of the batched variant")
    parser.add_argument("--max-turns", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 on a shared CPU)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING)

    import torch

    from zerosearch.common.datasets import load_benchmark
    from zerosearch.common.policies import make_policy
    from zerosearch.common.search.factory import make_backend
    from zerosearch.common.settings import get_common_settings
    from zerosearch.evaluator.config import EvalConfig

    torch.set_num_threads(args.threads)
    data_dir = get_common_settings().data_dir
    items = load_benchmark("nq", data_dir=data_dir, limit=args.questions, seed=0)
    config = EvalConfig(max_turns=args.max_turns, max_new_tokens=args.max_new_tokens).rollout_config()
    policy = make_policy("transformers", "smollm2-135m")
    backend = make_backend("bm25")
    _timed(policy, backend, items[:2], config, 2)  # warm-up: first-call allocations, index pages
    load_before = os.getloadavg()[0]
    batched_s, batched = _timed(policy, backend, items, config, args.batch_size)
    single_s, single = _timed(policy, backend, items, config, 1)
    load_after = os.getloadavg()[0]
    same = sum(a.answer == b.answer for a, b in zip(batched, single, strict=True))
    tokens = sum(len(t.model_ids) for t in batched)
    print(f"questions={len(items)} max_turns={args.max_turns} max_new_tokens={args.max_new_tokens} "
          f"threads={args.threads} load(1m) before={load_before:.2f} after={load_after:.2f}")  # fmt: skip
    print(f"batched (batch {args.batch_size}): {len(items) / batched_s:.3f} questions/s ({batched_s:.1f} s)")
    print(f"one at a time (batch 1):   {len(items) / single_s:.3f} questions/s ({single_s:.1f} s)")
    print(f"ratio batched / one-at-a-time: {single_s / batched_s:.2f}x")
    print(f"searches: batched {sum(len(t.searches) for t in batched)}, single {sum(len(t.searches) for t in single)}; "
          f"same answer in {same}/{len(items)}; model tokens (batched) {tokens}")  # fmt: skip


if __name__ == "__main__":
    main()
