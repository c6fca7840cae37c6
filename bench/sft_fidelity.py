"""Simulator fidelity before and after a short simulation-tuning run on CPU, side by side in one run.

Trains the bundled SmolLM2-135M on SFT pairs collected with BM25 over the shared corpus, then measures
three simulators on the same held-out NQ questions (none of them used in tuning) with a BM25 reference:
the bundled model with the prompt-only style (the untuned default), the bundled model with the tuned
prompt, and the tuned model with the tuned prompt.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/sft_fidelity.py --train-questions 48 --steps 30 --holdout 12
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zerosearch.common.settings import get_common_settings
from zerosearch.tuning.config import (
    BuildConfig,
    CollectConfig,
    FidelityConfig,
    LabelConfig,
    SFTPipelineConfig,
    SFTTrainConfig,
)

log = logging.getLogger("bench.sft_fidelity")


@contextmanager
def simulator(model: str, style: str) -> Iterator[str]:
    """The real simulator app on a free local port (uvicorn in a thread)."""
    import uvicorn

    from zerosearch.simulator.app import create_app
    from zerosearch.simulator.settings import SimulatorSettings

    settings = SimulatorSettings(model=model, prompt_style=style, engine="transformers", redis_url=None)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def main() -> None:
    """Tune, then measure the three simulators; print one table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-questions", type=int, default=48)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--holdout", type=int, default=12)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    from zerosearch.common.models import resolve_model
    from zerosearch.tuning.fidelity import FidelityReport, render_markdown
    from zerosearch.tuning.fidelity import main as fidelity
    from zerosearch.tuning.jobs import run_pipeline

    work = args.work or Path(tempfile.mkdtemp(prefix="sft-bench-"))
    lines = (Path(get_common_settings().data_dir) / "qa" / "nq.jsonl").read_text().splitlines()
    (work / "train_q.jsonl").write_text("\n".join(lines[: args.train_questions]) + "\n")
    (work / "holdout_q.jsonl").write_text("\n".join(lines[-args.holdout :]) + "\n")  # disjoint from training
    bundled = resolve_model("smollm2-135m")
    started = time.perf_counter()
    reports = run_pipeline(SFTPipelineConfig(
        work_dir=work,
        collect=CollectConfig(questions=str(work / "train_q.jsonl"), limit=None, policy=bundled, method="rag",
                              max_new_tokens=16, batch_size=16),
        label=LabelConfig(rule="answer"),
        build=BuildConfig(valid_fraction=0.1),
        train=SFTTrainConfig(model=bundled, learning_rate=args.lr, batch_size=2, max_steps=args.steps,
                             max_length=512, logging_steps=5, device="cpu"),
    ))  # fmt: skip
    tune_s = time.perf_counter() - started
    rows = []
    for name, model, style in (("bundled", bundled, "prompt-only"), ("bundled", bundled, "tuned"),
                               ("tuned", str(work / "model"), "tuned")):  # fmt: skip
        with simulator(model, style) as url:
            report = fidelity(FidelityConfig(simulator=url, questions=str(work / "holdout_q.jsonl"), limit=None,
                                             name=f"{name} / {style}", output_dir=work / f"fid-{name}-{style}",
                                             backend="bm25" if not rows else "none"))  # fmt: skip
        rows.extend(report.rows)
    combined = FidelityReport(simulator="three simulators", questions="nq (last lines, held out)",
                              n_questions=args.holdout, k=5, rows=rows)  # fmt: skip
    print(render_markdown(combined))
    print(json.dumps({"label": reports["label"], "build": reports["build"], "train": reports["train"],
                      "tune_seconds": round(tune_s, 1)}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
