"""Search-backend figures, measured side by side in one run: BM25 index build vs cached load, and a turn of
queries scored in one batched call vs one call per query (the agent loop sends a whole turn at once).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/search_backends.py --questions 200
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from zerosearch.common.search.base import SearchRequest
from zerosearch.common.search.bm25 import BM25Backend
from zerosearch.common.settings import CommonSettings

log = logging.getLogger("bench.search_backends")


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    """Print the figures as one JSON line plus a short table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=200, help="NQ questions used as queries.")
    args = parser.parse_args()
    data = CommonSettings().data_dir
    if data is None:
        raise SystemExit("set ZEROSEARCH_DATA_DIR to the shared data folder")
    corpus = Path(data) / "corpus" / "wiki_mini.jsonl"
    lines = (Path(data) / "qa" / "nq.jsonl").read_text().splitlines()[: args.questions]
    requests = [SearchRequest(query=json.loads(line)["question"], k=5) for line in lines]
    with tempfile.TemporaryDirectory() as cache:
        _, build_s = _timed(lambda: BM25Backend(corpus, cache_dir=cache))
        backend, load_s = _timed(lambda: BM25Backend(corpus, cache_dir=cache))
        backend.search_batch(requests[:5])  # warm-up
        _, batched_s = _timed(lambda: backend.search_batch(requests))
        _, single_s = _timed(lambda: [backend.search_batch([r]) for r in requests])
    figures = {
        "load_avg_1m": os.getloadavg()[0],
        "bm25_build_s": round(build_s, 3),
        "bm25_cached_load_s": round(load_s, 3),
        "queries": len(requests),
        "batched_queries_per_s": round(len(requests) / batched_s, 1),
        "one_by_one_queries_per_s": round(len(requests) / single_s, 1),
        "batched_speedup": round(single_s / batched_s, 2),
    }
    print(json.dumps(figures))
    print(f"BM25 index build {build_s:.2f} s vs cached load {load_s:.2f} s ({build_s / load_s:.1f}x)")
    print(f"{len(requests)} queries: batched {figures['batched_queries_per_s']}/s vs one by one "
          f"{figures['one_by_one_queries_per_s']}/s ({figures['batched_speedup']}x)")  # fmt: skip


if __name__ == "__main__":
    main()
