"""Simulator engines side by side on one machine: ours (transformers, llamacpp) vs llama.cpp's llama-server.

    python bench/engines.py --skip-transformers  # the issue-14 table, in one run (~30 minutes on 2 cores)
    python bench/engines.py --answer-rate 48     # plus the useful-mode answer rate, transformers vs llamacpp
    python bench/engines.py --answer-rate 288 --answer-rate-only   # that probe alone, paired per question
    python bench/engines.py --answer-rate 288 --answer-rate-only --answer-rate-seed 1000   # another draw

Locates or builds ``llama-server`` (zerosearch.simulator.engines.llama_server: PATH, cache, else a build from
the llama-cpp-python sdist on PyPI). Then, one engine at a time (never two model processes at once):

- tok/s on the same 16 prompt-only simulator prompts (k=5, modes alternating: ~320 tokens), 120 new tokens,
  temperature 0.8, no stop: our transformers engine (micro-batch 16 and batch 1), our llamacpp engine (16
  slots and 1; flash attention as it measured faster on this machine), and raw ``llama-server`` sent the
  rendered prompt text to ``POST /completion`` as a user would: 16 slots without and with its prompt cache,
  1 slot with it; the cached rows again with ``--flash-attn off`` (the faster where llama.cpp's default is
  the slower), and again with the faster flash-attention setting and plain sampling (``--top-k 0 --top-p 1
  ...``: the distribution our engine and the reference's vLLM sample; llama-server's default chain
  truncates it to the 40 likeliest tokens, and writes shorter, cheaper documents). Engines with a prompt
  cache first get a warm-up round of 16 other prompts, so the measured rounds reuse only the shared prefix.
  Every llama.cpp row and documents/s row is the median of ``--rounds`` (3) rounds of new prompts: one
  round swings ±10% on a 2-core machine; the transformers rows (slow) are one round.
- documents/s through the simulator: 16 concurrent seeded searches, k=3 (after a warm-up round of other
  queries), for engine transformers, llamacpp, and openai over a raw llama-server with 16 slots in the
  same three configurations.
- the ratios ours / llama-server: against its defaults, against its fastest configuration, and against it
  sampling as ours does (equal work).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from zerosearch.common.connection import free_port
from zerosearch.common.models import bundled_gguf_path, load_causal_lm
from zerosearch.common.processes import Supervisor
from zerosearch.simulator.app import create_app
from zerosearch.simulator.engines.base import Engine, GenerationRequest
from zerosearch.simulator.engines.llama_server import llama_server_binary
from zerosearch.simulator.engines.llamacpp import PLAIN_SAMPLING, PROMPT_ALLOWANCE, LlamaCppEngine
from zerosearch.simulator.engines.transformers import TransformersEngine
from zerosearch.simulator.local import serve_in_background
from zerosearch.simulator.prompts import Mode, SimulationPrompt, build_prompt
from zerosearch.simulator.settings import SimulatorSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: the answer-rate probe is shared
from simulator import useful_answer_hits

log = logging.getLogger("bench.engines")

PROMPTS = 16
NEW_TOKENS = 120
TEMPERATURE = 0.8


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def prompts(tag: str, n: int = PROMPTS) -> list[SimulationPrompt]:
    """``n`` prompt-only simulator prompts (k=5), modes alternating."""
    return [
        build_prompt(f"{tag} history of city number {i}", Mode.USEFUL if i % 2 == 0 else Mode.NOISY, k=5)
        for i in range(n)
    ]


def _row(name: str, rounds: list[tuple[int, float]], rows: dict[str, float]) -> float:
    """Record and print the median tok/s of the measured rounds (each round: tokens, wall seconds)."""
    rates = [tokens / wall for tokens, wall in rounds]
    rows[name] = statistics.median(rates)
    each = ", ".join(f"{r:.1f}" for r in rates)
    print(f"{name:<50} {rows[name]:8.1f} tok/s median   (rounds: {each})", flush=True)
    return rows[name]


# --- our engines, called directly -----------------------------------------------------------------------


EQUAL = "plain sampling"
"""The raw rows that sample as our engine does (equal work)."""


def sampling_flags(sampling: dict[str, float]) -> tuple[str, ...]:
    """llama-server's command-line defaults for these request fields (``top_k`` -> ``--top-k 0`` ...)."""
    return tuple(
        part for key, value in sampling.items() for part in (f"--{key.replace('_', '-')}", str(value))
    )


def _ratios(ours: float, configurations: tuple[float, float, float]) -> str:
    """``ours`` against llama-server's defaults [its fastest configuration] (the one sampling as ours)."""
    defaults, _, equal = configurations
    return f"{ours / defaults:.2f}x [{ours / max(configurations):.2f}x] ({ours / equal:.2f}x)"


async def _engine_round(engine: Engine, batch: list[SimulationPrompt], concurrent: bool) -> tuple[int, float]:
    requests = [GenerationRequest(p, max_new_tokens=NEW_TOKENS, seed=i) for i, p in enumerate(batch)]
    start = time.perf_counter()
    if concurrent:  # one call each, as concurrent searches arrive
        outs = [g for out in await asyncio.gather(*(engine.generate([r]) for r in requests)) for g in out]
    else:
        outs = [(await engine.generate([r]))[0] for r in requests]
    return sum(g.completion_tokens for g in outs), time.perf_counter() - start


def engine_tok_s(engine: Engine, n: int, *, warm: bool, rounds: int) -> list[tuple[int, float]]:
    """Start ``engine``, optionally a warm-up round, then ``rounds`` measured rounds of ``n`` new prompts
    each; stop it."""

    async def run() -> list[tuple[int, float]]:
        await engine.start()
        try:
            concurrent = engine.settings.max_batch_size > 1
            if warm:
                await _engine_round(engine, prompts("warm", n), concurrent)
            return [await _engine_round(engine, prompts(f"bench{r}", n), concurrent) for r in range(rounds)]
        finally:
            await engine.aclose()

    return asyncio.run(run())


# --- raw llama-server -----------------------------------------------------------------------------------


@contextlib.contextmanager
def raw_llama_server(
    binary: Path, slots: int, threads: int | None, extra: tuple[str, ...] = ()
) -> Iterator[str]:
    """``llama-server`` with the bundled GGUF and ``slots`` parallel slots, as a user would start it."""
    port = free_port()
    command = [str(binary), "-m", str(bundled_gguf_path()), "--port", str(port), "-np", str(slots),
               "-c", str(slots * (PROMPT_ALLOWANCE + NEW_TOKENS * 5)), "--no-webui"]  # fmt: skip
    if threads:
        command += ["-t", str(threads)]
    command += list(extra)
    with tempfile.TemporaryDirectory() as logs:
        supervisor = Supervisor(log_dir=Path(logs))
        child = supervisor.start("llama-server", command)
        try:
            supervisor.wait_http(child, f"http://127.0.0.1:{port}/health", timeout_s=120)
            yield f"http://127.0.0.1:{port}"
        finally:
            supervisor.stop(child)


async def _raw_round(url: str, texts: list[str], cache: bool, concurrent: bool) -> tuple[int, float]:
    async with httpx.AsyncClient(base_url=url, timeout=1800) as http:

        async def one(i: int, text: str) -> int:
            body = {"prompt": text, "n_predict": NEW_TOKENS, "temperature": TEMPERATURE, "seed": i,
                    "cache_prompt": cache}  # fmt: skip
            return int(
                (await http.post("/completion", json=body)).raise_for_status().json()["tokens_predicted"]
            )

        start = time.perf_counter()
        if concurrent:
            tokens = sum(await asyncio.gather(*(one(i, t) for i, t in enumerate(texts))))
        else:
            tokens = sum([await one(i, t) for i, t in enumerate(texts)])
        return tokens, time.perf_counter() - start


def raw_tok_s(
    binary: Path,
    tokenizer,
    slots: int,
    n: int,
    cache: bool,
    threads: int | None,
    rounds: int,
    extra: tuple[str, ...] = (),
) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
    """A warm-up round then ``rounds`` measured rounds against a fresh raw llama-server."""
    warm = [p.render(tokenizer) for p in prompts("warm", n)]
    with raw_llama_server(binary, slots, threads, extra) as url:
        asyncio.run(_raw_round(url, warm, cache, slots > 1))
        return [
            asyncio.run(
                _raw_round(url, [p.render(tokenizer) for p in prompts(f"bench{r}", n)], cache, slots > 1)
            )
            for r in range(rounds)
        ]


# --- through the simulator ------------------------------------------------------------------------------


async def _searches(url: str, tag: str, n: int, k: int) -> tuple[int, float]:
    async with httpx.AsyncClient(base_url=url, timeout=1800) as http:

        async def one(i: int) -> int:
            params = {"q": f"{tag} history of city number {i}", "k": k, "seed": i}
            return len((await http.get("/search", params=params)).raise_for_status().json()["documents"])

        start = time.perf_counter()
        docs = sum(await asyncio.gather(*(one(i) for i in range(n))))
        return docs, time.perf_counter() - start


def simulator_docs_s(settings: SimulatorSettings, engine: Engine, n: int, k: int, rounds: int) -> float:
    """Median documents/s of ``rounds`` rounds of ``n`` concurrent seeded searches (new queries each round,
    after a warm-up round of other queries)."""
    with serve_in_background(create_app(settings, engine=engine), startup_timeout_s=600) as url:
        if settings.engine != "transformers":  # no prompt cache to warm there
            asyncio.run(_searches(url, "warm", n, k))
        rates = [
            docs / wall
            for docs, wall in (asyncio.run(_searches(url, f"bench{r}", n, k)) for r in range(rounds))
        ]
    each = ", ".join(f"{r:.2f}" for r in rates)
    print(
        f"simulator, engine {settings.engine:<12} {statistics.median(rates):6.2f} documents/s median  (rounds: {each})"
    )
    return statistics.median(rates)


def answer_rates(
    questions: int, first_seed: int, settings: Callable[..., SimulatorSettings], model, tok, extra
) -> None:  # type: ignore[no-untyped-def]
    """The useful-mode answer rate of both engines on the same questions and seeds, and how their hits
    pair up question by question (the discordant pairs are what tells the engines apart)."""

    def probe(engine: str) -> SimulatorSettings:  # every question in one POST body
        size = max(questions, 256)
        return settings(engine, PROMPTS, tokens_per_document=32, max_request_batch=size, max_queue=size)

    hits = {
        name: useful_answer_hits(s := probe(name), make(s), questions, first_seed)
        for name, make in (
            ("transformers", lambda s: TransformersEngine(s, model=model, tokenizer=tok)),
            ("llamacpp", lambda s: LlamaCppEngine(s, tokenizer=tok, extra_args=extra)),
        )
    }
    print(f"\nuseful documents containing the gold answer ({questions} NQ questions, k=3, seeds {first_seed}..): "
          + ", ".join(f"{k} {sum(v) / len(v):.1%}" for k, v in hits.items()))  # fmt: skip
    pairs = list(zip(hits["transformers"], hits["llamacpp"], strict=True))
    only_t, only_l = pairs.count((True, False)), pairs.count((False, True))
    print(f"  per question: both {pairs.count((True, True))}, transformers only {only_t}, llamacpp only "
          f"{only_l}, neither {pairs.count((False, False))}; exact McNemar p = {_mcnemar(only_t, only_l):.2f}")  # fmt: skip


def _mcnemar(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: the discordant pairs against a fair coin."""
    n, low = b + c, min(b, c)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(low + 1)) / 2**n
    return min(1.0, 2 * tail)


def main() -> int:
    """Measure every row and print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single-prompts", type=int, default=4, help="Prompts of the concurrency-1 rows.")
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads of every engine (default: theirs)."
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="Measured rounds per llama.cpp row (the median is reported)."
    )
    parser.add_argument(
        "--answer-rate", type=int, default=0, help="NQ questions of the answer-rate probe (0: skip)."
    )
    parser.add_argument(
        "--answer-rate-seed", type=int, default=0, help="Seed of the probe's first question (i: +i)."
    )
    parser.add_argument(
        "--answer-rate-only", action="store_true", help="Only the answer-rate probe (no speed rows)."
    )
    parser.add_argument(
        "--llamacpp-args", default="", help="More llama-server flags for our engine (levers)."
    )
    parser.add_argument(
        "--skip-transformers", action="store_true", help="Leave out the (slow) transformers rows."
    )
    args = parser.parse_args()
    if args.answer_rate_only and args.answer_rate < 1:
        parser.error("--answer-rate-only needs --answer-rate N (N >= 1 NQ questions)")
    logging.basicConfig(level=logging.WARNING)
    print("load before:", _uptime(), flush=True)
    binary = llama_server_binary(os.environ.get("ZEROSEARCH_LLAMA_SERVER_PATH"))
    print("llama-server:", binary, flush=True)
    model, tok = load_causal_lm("smollm2-135m")
    tok_s: dict[str, float] = {}
    extra = tuple(args.llamacpp_args.split())

    def settings(engine: str, batch: int, **extra: object) -> SimulatorSettings:
        return SimulatorSettings(engine=engine, max_batch_size=batch, max_new_tokens=NEW_TOKENS * 5,
                                 temperature=TEMPERATURE, threads=args.threads, batch_wait_ms=10,
                                 latency_budget_s=3600, **extra)  # fmt: skip

    if args.answer_rate_only:
        answer_rates(args.answer_rate, args.answer_rate_seed, settings, model, tok, extra)
        print("\nload after:", _uptime())
        return 0
    print(f"\n== tok/s: {PROMPTS} prompt-only prompts, {NEW_TOKENS} new tokens, temperature {TEMPERATURE} ==")
    if not args.skip_transformers:
        for batch, n in ((PROMPTS, PROMPTS), (1, args.single_prompts)):
            eng = TransformersEngine(settings("transformers", batch), model=model, tokenizer=tok)
            _row(
                f"ours: transformers, micro-batch {batch}, fp32",
                engine_tok_s(eng, n, warm=False, rounds=1),
                tok_s,
            )
    for slots, n in ((PROMPTS, PROMPTS), (1, args.single_prompts)):
        eng = LlamaCppEngine(settings("llamacpp", slots), tokenizer=tok, extra_args=extra)
        _row(f"ours: llamacpp, {slots} slots", engine_tok_s(eng, n, warm=True, rounds=args.rounds), tok_s)
        print(f"  (our engine ran with flash attention {eng.flash_attention})")
    fa_off = ("--flash-attn", "off")
    for slots, n, cache, flags in (
        (PROMPTS, PROMPTS, False, ()),
        (PROMPTS, PROMPTS, True, ()),
        (PROMPTS, PROMPTS, True, fa_off),
        (1, args.single_prompts, True, ()),
        (1, args.single_prompts, True, fa_off),
    ):
        name = f"llama-server, {slots} slots, prompt cache {'on' if cache else 'off'}" + (
            ", -fa off" if flags else ""
        )
        _row(name, raw_tok_s(binary, tok, slots, n, cache, args.threads, args.rounds, flags), tok_s)
    cached = f"llama-server, {PROMPTS} slots, prompt cache on"
    faster_fa = fa_off if tok_s[f"{cached}, -fa off"] > tok_s[cached] else ()
    plain = (*faster_fa, *sampling_flags(PLAIN_SAMPLING))
    for slots, n in ((PROMPTS, PROMPTS), (1, args.single_prompts)):
        _row(
            f"llama-server, {slots} slots, prompt cache on, {EQUAL}",
            raw_tok_s(binary, tok, slots, n, True, args.threads, args.rounds, plain),
            tok_s,
        )
    print(f"  ({EQUAL}: {' '.join(plain)})")

    print(f"\n== through the simulator: {PROMPTS} concurrent seeded searches, k=3 ==")
    docs_s: dict[str, float] = {}
    if not args.skip_transformers:
        docs_s["transformers"] = simulator_docs_s(
            s := settings("transformers", PROMPTS),
            TransformersEngine(s, model=model, tokenizer=tok),
            PROMPTS,
            3,
            1,
        )
    docs_s["llamacpp"] = simulator_docs_s(
        s := settings("llamacpp", PROMPTS),
        LlamaCppEngine(s, tokenizer=tok, extra_args=extra),
        PROMPTS,
        3,
        args.rounds,
    )
    from zerosearch.simulator.engines.openai import OpenAIEngine

    for name, flags in (("openai", ()), ("openai, -fa off", fa_off), (f"openai, {EQUAL}", plain)):
        with raw_llama_server(binary, PROMPTS, args.threads, flags) as url:
            # 16 concurrent searches wait on one server: on a slow machine a call passes the engine's 60 s
            s = settings(
                "openai", PROMPTS, openai_base_url=f"{url}/v1", model="smollm2", openai_timeout_s=3600
            )
            print(f"  (openai over llama-server {' '.join(flags) or 'with its defaults'})")
            docs_s[name] = simulator_docs_s(s, OpenAIEngine(s), PROMPTS, 3, args.rounds)

    print(f"\n== ratios ours / llama-server: its defaults [its fastest configuration] ({EQUAL}) ==")
    for slots in (PROMPTS, 1):
        raw = f"llama-server, {slots} slots, prompt cache on"
        configurations = (tok_s[raw], tok_s[f"{raw}, -fa off"], tok_s[f"{raw}, {EQUAL}"])
        print(f"ours llamacpp {slots} / llama-server {slots} with prompt cache: "
              + _ratios(tok_s[f"ours: llamacpp, {slots} slots"], configurations))  # fmt: skip
    configurations = (docs_s["openai"], docs_s["openai, -fa off"], docs_s[f"openai, {EQUAL}"])
    print(
        "simulator docs/s, llamacpp / openai over llama-server: "
        + _ratios(docs_s["llamacpp"], configurations)
    )
    cache_on = tok_s[cached]
    if "transformers" in docs_s:
        print(f"ours transformers 16 / llama-server 16 with prompt cache: "
              f"{tok_s['ours: transformers, micro-batch 16, fp32'] / cache_on:.2f}x")  # fmt: skip
        print(f"simulator docs/s, transformers / openai over llama-server: "
              f"{docs_s['transformers'] / docs_s['openai']:.2f}x")  # fmt: skip
    if args.answer_rate:
        answer_rates(args.answer_rate, args.answer_rate_seed, settings, model, tok, extra)
    print("\nload after:", _uptime())
    return 0


if __name__ == "__main__":
    sys.exit(main())
