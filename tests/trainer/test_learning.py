"""Training learns: a few real GRPO steps raise the reward on two questions whose documents hold the answer.

Everything is real: the bundled SmolLM2-135M, our cold start (TRL's SFTTrainer), our GRPO trainer with TRL,
and our BM25 engine over a tiny corpus as the rollouts' search backend. The facts are invented (Veloria,
Tilda Brenn...), so the model cannot know an answer: any reward comes from reading the documents.

1. Cold start on six *other* invented questions: the policy learns the format (search, then answer with a
   span of the documents), not the two training answers.
2. GRPO on the two training questions for a few steps, fixed seed: the mean reward of the last steps
   exceeds the first steps'. The reason is measurable in the run: rollouts that copy the right name from the
   documents score F1 1, the others less, so each group has a spread and the policy moves towards the copy.

Measured on 2 cores (twice, identical): per-step reward 0.6, 0.5 → 1.0, 0.917 (first two steps vs last
two: 0.55 → 0.96), 142–148 s with the cold start. What it took: 40 new tokens a turn (with 24 the
``<search>`` tag was cut off, no rollout searched and every group scored 0: no signal at all), one question
a step (4 rollouts: two steps see both questions once), learning rate 3e-5 (1e-4 collapsed the policy:
entropy 0.08 → 0.96, the format lost and the reward 0 from step 5).

On CPU the run is deterministic for a given torch build and thread count (seeded sampling; the test pins
one thread); another machine may draw other samples, hence a margin rather than exact figures.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.model]

FACTS = [  # (question, answer, passage)
    ("what is the capital of veloria", "Marbeth", "Veloria is a small kingdom. The capital of Veloria is Marbeth, a river port."),
    ("who founded the orrin glass company", "Tilda Brenn", "The Orrin Glass Company was founded by Tilda Brenn in a coastal town."),
    ("what river flows through dunmere", "the Kessa", "Dunmere is a market town. The Kessa river flows through Dunmere."),
    ("who wrote the novel the amber gate", "Osric Vale", "The Amber Gate is a novel written by Osric Vale about a lost city."),
    ("what is the national animal of pellara", "the snow hare", "Pellara chose the snow hare as its national animal."),
    ("which company makes the zento bicycle", "Harlow Works", "The Zento bicycle is made by Harlow Works, a firm in the north."),
    ("who painted the blue orchard", "Mira Castell", "The Blue Orchard is a painting by Mira Castell, shown in Rome."),
    ("what language is spoken in tarsk", "Tarskan", "In Tarsk most people speak Tarskan, a northern language."),
]  # fmt: skip
TRAIN = FACTS[:2]  # GRPO trains on these two; the cold start never sees them
FORMAT = FACTS[2:]  # the cold start's demonstrations


def _write(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": str(i), "title": q.split()[-1].title(), "text": p}) + "\n"
            for i, (q, _, p) in enumerate(FACTS)
        )
    )
    qa = tmp_path / "train.jsonl"
    qa.write_text(
        "".join(
            json.dumps({"id": f"t{i}", "question": q, "golden_answers": [a]}) + "\n"
            for i, (q, a, _) in enumerate(TRAIN)
        )
    )
    return corpus, qa


def test_grpo_raises_the_reward_on_questions_whose_documents_hold_the_answer(
    tmp_path: Path, bundled_model_path: str
) -> None:
    import torch

    from zerosearch.common.search.bm25 import BM25Backend
    from zerosearch.common.trajectory import QAItem
    from zerosearch.trainer.cold_start import run_cold_start
    from zerosearch.trainer.config import parse_train_config
    from zerosearch.trainer.grpo import train
    from zerosearch.trainer.run_dir import RunDir

    torch.set_num_threads(1)  # the same arithmetic (and samples) on every run of this machine
    corpus, qa = _write(tmp_path)
    base = {
        "model": bundled_model_path, "simulator_url": "http://127.0.0.1:9", "datasets": [str(qa)],
        "search": "bm25", "curriculum": {"kind": "constant", "p_start": 0.0, "p_end": 0.0},
        "rollout": {"max_turns": 1, "top_k": 1, "max_new_tokens": 40, "max_completion_tokens": 192},
        "cold_start": {"enabled": True, "examples": 6, "epochs": 3, "learning_rate": 1e-4, "batch_size": 2,
                       "corpus": str(corpus), "top_k": 1, "max_length": 256},
        "num_generations": 4, "prompts_per_step": 1, "steps": STEPS, "learning_rate": LR, "beta": 0.0,
        "temperature": 1.0, "reward": "f1", "seed": 7, "checkpoint_interval": STEPS + 1,
        "eval": {"enabled": False}, "output_dir": str(tmp_path / "run"), "report_to": "none",
    }  # fmt: skip
    config = parse_train_config(base)
    formats = [QAItem(id=f"f{i}", question=q, golden_answers=[a]) for i, (q, a, _) in enumerate(FORMAT)]
    cold = run_cold_start(config, RunDir(tmp_path / "cold"), formats)

    grpo = parse_train_config({**base, "model": str(cold), "cold_start": {"enabled": False}})
    train(grpo, backend=BM25Backend(corpus, cache_dir=tmp_path / "cache"))
    rewards = [m["reward"] for m in RunDir(tmp_path / "run").read_metrics()]
    print("rewards per step:", [round(r, 3) for r in rewards])
    assert len(rewards) == STEPS
    first, last = statistics.fmean(rewards[:2]), statistics.fmean(rewards[-2:])
    assert last > first + MARGIN, (
        f"reward did not rise: first steps {first:.3f}, last steps {last:.3f} ({rewards})"
    )


STEPS = 4  # one question a step, so steps 1-2 and 3-4 each see both questions once
LR = 3e-5  # 1e-4 collapsed the policy (entropy 0.08 → 0.96, format lost, reward → 0 by step 5)
MARGIN = 0.2
