"""Fixtures of the simulation-tuning tests: one tiny real pipeline run (collect → label → build → train)
per session, on CPU with the bundled model and BM25 over the shared corpus.

Every setting is shrunk for a 2-core CI machine; each shrink says why next to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from zerosearch.tuning.config import (
    BuildConfig,
    CollectConfig,
    LabelConfig,
    SFTPipelineConfig,
    SFTTrainConfig,
)


def write_questions(data_dir: Path, target: Path, count: int) -> Path:
    """The first ``count`` NQ questions of the shared data as a QA file (never committed to the repo)."""
    lines = (data_dir / "qa" / "nq.jsonl").read_text().splitlines()[:count]
    target.write_text("\n".join(lines) + "\n")
    return target


@dataclass
class PipelineRun:
    """Files and reports of the session's tiny pipeline run (made by one real job on the sft queue)."""

    work: Path
    config: SFTPipelineConfig
    job_id: str
    meta: dict
    reports: dict


def tiny_pipeline(work: Path, questions: Path, corpus: Path, model: str) -> SFTPipelineConfig:
    """The smallest pipeline that still exercises every stage for real."""
    return SFTPipelineConfig(
        work_dir=work,
        collect=CollectConfig(
            questions=str(questions),
            limit=None,
            policy=model,
            method="rag",  # the untrained 135M policy never writes <search>; rag makes one real search each
            corpus=corpus,
            top_k=4,  # 4 documents a call: both labels appear, with fewer tokens to train on
            max_new_tokens=8,  # the answer text is irrelevant here; the documents are what is collected
            batch_size=3,  # two batches, so the file is appended twice as in a long run
        ),
        label=LabelConfig(rule="answer"),
        build=BuildConfig(
            valid_fraction=0.2,  # 6 questions: 2 go to valid
            max_doc_words=12,  # short targets keep each training step to a few hundred tokens
        ),
        train=SFTTrainConfig(
            model=model,
            learning_rate=1e-4,  # large on purpose: 3 steps must visibly move the weights
            batch_size=2,
            max_steps=3,  # a few optimizer steps prove the wiring; quality is measured in the benchmark
            max_length=384,
            logging_steps=1,  # every step logs a loss the test can read
            device="cpu",
        ),
    )


@pytest.fixture(scope="session")
def sft_run(
    tmp_path_factory: pytest.TempPathFactory,
    data_dir: Path,
    corpus_path: Path,
    bundled_model_path: str,
    redis_url: str,
) -> PipelineRun:
    """collect → label → build → train once, as a real job on the sft queue run by an in-process worker."""
    from rq import SimpleWorker

    from zerosearch.common.connection import connect
    from zerosearch.common.queue import QueueName, get_queue
    from zerosearch.tuning.jobs import submit

    work = tmp_path_factory.mktemp("sft")
    # 6 questions: enough for both labels (BM25 puts a gold answer in about 1 document of 4) and a valid
    # split, small enough for seconds of generation.
    questions = write_questions(data_dir, work / "questions.jsonl", 6)
    config = tiny_pipeline(work, questions, corpus_path, bundled_model_path)
    conn = connect(redis_url)
    try:
        job = submit(conn, config)
        # SimpleWorker runs the job in this process: no fork of a process that already holds torch.
        SimpleWorker([get_queue(conn, QueueName.SFT)], connection=conn).work(burst=True)
        job.refresh()
        assert job.get_status() == "finished", job.latest_result().exc_string
        return PipelineRun(work, config, job.id, dict(job.meta), job.return_value())
    finally:
        conn.close()


def read_lines(path: Path) -> list[dict]:
    """Every JSON line of ``path``."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
