"""Simulator throughput: the micro-batched transformers engine vs the same engine at batch size 1.

    python bench/simulator.py --concurrency 16 --requests 2 --tokens-per-document 40

C concurrent clients each send N distinct GET /search calls (no cache) to a real app on the bundled model,
once with --max-batch-size B and once with batch size 1, in one run; then cache-hit latency against a real
Redis; then (with --bf16) the batched run in bfloat16; then (with --int8) the batched run with int8 Linear
layers, and how often useful-mode documents contain the gold answer, float32 vs int8, on the same seeded
NQ questions. Prints docs/s, p50/p95, tokens/s and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from zerosearch.common.connection import EmbeddedRedis
from zerosearch.common.models import load_causal_lm
from zerosearch.simulator.app import create_app
from zerosearch.simulator.engines.transformers import TransformersEngine
from zerosearch.simulator.local import serve_in_background as serve_app
from zerosearch.simulator.settings import SimulatorSettings


def _tokens(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    match = re.search(r"^zerosearch_simulator_tokens_generated_total (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


async def _load(url: str, concurrency: int, per_client: int, k: int, tag: str) -> tuple[list[float], int]:
    latencies: list[float] = []
    docs = 0
    async with httpx.AsyncClient(base_url=url, timeout=1800) as http:

        async def client(c: int) -> None:
            nonlocal docs
            for i in range(per_client):
                start = time.perf_counter()
                r = await http.get("/search", params={"q": f"{tag} history of city number {c}-{i}", "k": k})
                r.raise_for_status()
                latencies.append(time.perf_counter() - start)
                docs += len(r.json()["documents"])

        await asyncio.gather(*(client(c) for c in range(concurrency)))
    return latencies, docs


def run_case(model, tok, name: str, args: argparse.Namespace, **overrides) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """One configuration under load; returns its figures."""
    settings = SimulatorSettings(tokens_per_document=args.tokens_per_document, batch_wait_ms=10, **overrides)
    engine = TransformersEngine(settings, model=model, tokenizer=tok)
    with serve_app(create_app(settings, engine=engine)) as url:
        before = _tokens(url)
        start = time.perf_counter()
        lat, docs = asyncio.run(_load(url, args.concurrency, args.requests, args.k, name))
        wall = time.perf_counter() - start
        tokens = _tokens(url) - before
    q = statistics.quantiles(lat, n=20)
    row = {"calls/s": len(lat) / wall, "docs/s": docs / wall, "tok/s": tokens / wall,
           "p50_s": statistics.median(lat), "p95_s": q[18], "wall_s": wall, "docs": docs}  # fmt: skip
    print(f"{name:>22}: " + "  ".join(f"{k}={v:.2f}" for k, v in row.items()), flush=True)
    return row


def cache_hits(model, tok, args: argparse.Namespace) -> float:  # type: ignore[no-untyped-def]
    """p50 latency (ms, client side) of a repeated seeded call served from a real Redis."""
    with EmbeddedRedis() as redis:
        settings = SimulatorSettings(tokens_per_document=4, redis_url=redis.url)
        engine = TransformersEngine(settings, model=model, tokenizer=tok)
        with serve_app(create_app(settings, engine=engine)) as url, httpx.Client(base_url=url) as http:
            params = {"q": "cache probe", "k": 5, "seed": 1}
            http.get("/search", params=params, timeout=600).raise_for_status()
            lat = []
            for _ in range(args.cache_calls):
                start = time.perf_counter()
                assert http.get("/search", params=params).json()["cached"] is True
                lat.append((time.perf_counter() - start) * 1000)
    return statistics.median(lat)


def useful_answer_hits(
    settings: SimulatorSettings, engine: Any, questions: int, first_seed: int = 0
) -> list[bool]:
    """Per question, whether a useful-mode call (k=3, seed ``first_seed + i`` for question i, the first
    ``questions`` of NQ) wrote documents containing a gold answer (the simulation tuning's whole-word
    match). Another ``first_seed`` is another draw of the same questions: an engine's spread."""
    import json

    from zerosearch.common.metrics import contains_answer
    from zerosearch.common.settings import get_common_settings

    path = get_common_settings().data_dir / "qa" / "nq.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()[:questions]]
    body = {"requests": [
        {"q": r["question"], "k": 3, "mode": "useful", "question": r["question"],
         "answer": r["golden_answers"][0], "seed": first_seed + i}
        for i, r in enumerate(rows)
    ]}  # fmt: skip
    with serve_app(create_app(settings, engine=engine), startup_timeout_s=600) as url:
        results = httpx.post(f"{url}/search", json=body, timeout=3600).raise_for_status().json()["results"]
    return [
        contains_answer(" ".join(f"{d['title']} {d['text']}" for d in res["documents"]), r["golden_answers"])
        for r, res in zip(rows, results, strict=True)
    ]


def useful_answer_rate(settings: SimulatorSettings, engine: Any, questions: int) -> float:
    """Share of :func:`useful_answer_hits`; bench/engines.py runs the same probe."""
    hits = useful_answer_hits(settings, engine, questions)
    return sum(hits) / len(hits)


def answer_rate(model, tok, args: argparse.Namespace, **overrides) -> float:  # type: ignore[no-untyped-def]
    """The useful-mode answer rate of the transformers engine with these settings."""
    settings = SimulatorSettings(tokens_per_document=32, **overrides)
    engine = TransformersEngine(settings, model=model, tokenizer=tok)
    return useful_answer_rate(settings, engine, args.quality_questions)


def main() -> int:
    """Run every case and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2, help="Calls per client.")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--tokens-per-document", type=int, default=40)
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--cache-calls", type=int, default=200)
    parser.add_argument("--bf16", action="store_true", help="Also run the batched case in bfloat16.")
    parser.add_argument("--int8", action="store_true", help="Also run the batched case with int8 layers.")
    parser.add_argument("--quality-questions", type=int, default=48, help="NQ questions of the int8 probe.")
    args = parser.parse_args()
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    model, tok = load_causal_lm("smollm2-135m")
    batched = run_case(
        model, tok, f"batched (max {args.max_batch_size})", args, max_batch_size=args.max_batch_size
    )
    single = run_case(model, tok, "batch size 1", args, max_batch_size=1)
    print(f"throughput ratio batched / batch-1: docs/s {batched['docs/s'] / max(single['docs/s'], 1e-9):.2f}x, "
          f"tok/s {batched['tok/s'] / max(single['tok/s'], 1e-9):.2f}x")  # fmt: skip
    print(f"cache-hit p50: {cache_hits(model, tok, args):.2f} ms")
    if args.bf16:
        bf_model, bf_tok = load_causal_lm("smollm2-135m", dtype="bfloat16")
        bf = run_case(bf_model, bf_tok, "batched bf16", args, max_batch_size=args.max_batch_size)
        print(f"bf16 / fp32 batched tok/s: {bf['tok/s'] / max(batched['tok/s'], 1e-9):.2f}x")
    if args.int8:
        q8 = run_case(model, tok, "batched int8", args, max_batch_size=args.max_batch_size, quantize="int8")
        print(f"int8 / fp32 batched: docs/s {q8['docs/s'] / max(batched['docs/s'], 1e-9):.2f}x, "
              f"tok/s {q8['tok/s'] / max(batched['tok/s'], 1e-9):.2f}x")  # fmt: skip
        fp, q = answer_rate(model, tok, args), answer_rate(model, tok, args, quantize="int8")
        print(f"useful documents containing the gold answer ({args.quality_questions} NQ questions, k=3): "
              f"float32 {fp:.1%}, int8 {q:.1%}")  # fmt: skip
    print("load after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
