"""The tuned folder served by the real simulator app (uvicorn on a local port), and the fidelity report
computed from its real generations."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from zerosearch.tuning.config import FidelityConfig

pytestmark = [pytest.mark.slow, pytest.mark.model]


@pytest.fixture(scope="module")
def tuned_simulator(sft_run) -> Iterator[str]:
    """``zerosearch simulator serve --model <tuned dir> --prompt-style tuned`` in-process on a free port."""
    import uvicorn

    from zerosearch.simulator.app import create_app
    from zerosearch.simulator.settings import SimulatorSettings

    settings = SimulatorSettings(
        model=str(sft_run.config.train.output_dir),
        prompt_style=json.loads((sft_run.config.train.output_dir / "zerosearch.json").read_text())[
            "prompt_style"
        ],
        engine="transformers",
        redis_url=None,
        tokens_per_document=20,  # 2 documents x 20 tokens: short generations on the CI CPU
        max_batch_size=8,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.started, "simulator did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_tuned_folder_answers_search(tuned_simulator: str) -> None:
    params = {"q": "who wrote moby dick", "k": 2, "mode": "useful", "question": "Who wrote Moby-Dick?",
              "answer": "Herman Melville", "seed": 0}  # fmt: skip
    response = httpx.get(f"{tuned_simulator}/search", params=params, timeout=120)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "useful" and body["query"] == "who wrote moby dick"
    assert body["model"] and isinstance(body["documents"], list)


def test_fidelity_numbers_come_from_real_generations(
    tuned_simulator: str, sft_run, corpus_path, tmp_path
) -> None:
    from zerosearch.tuning.fidelity import main

    config = FidelityConfig(
        simulator=tuned_simulator,
        questions=str(sft_run.work / "questions.jsonl"),
        limit=2,  # two held-out calls per mode: the numbers are real, not meaningful at this size
        k=2,
        corpus=corpus_path,
        name="tuned-135m",
        output_dir=tmp_path,
    )
    report = main(config)
    rows = {r.mode: r for r in report.rows}
    assert set(rows) == {"useful", "noisy", "real"}
    assert all(r.calls == 2 and r.failed == 0 for r in rows.values())
    assert rows["real"].format_valid_rate == 1.0 and rows["real"].mean_doc_words > 20  # BM25 passages
    for row in rows.values():
        assert 0.0 <= row.doc_answer_rate <= 1.0 and 0.0 <= row.format_valid_rate <= 1.0
    saved = json.loads((tmp_path / "fidelity.json").read_text())
    assert saved["rows"][0]["name"] == "tuned-135m"
    assert "| tuned-135m | useful |" in (tmp_path / "fidelity.md").read_text()
    assert (tmp_path / "fidelity.png").read_bytes()[:4] == b"\x89PNG"
