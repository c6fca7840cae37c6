"""The agent loop against the REAL simulator app (FastAPI + the bundled model), served by uvicorn.

The simulator generates one short document (k=1, 40 tokens: fewer rarely parse as a document) so the
test stays inside a minute on 2 cores.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zerosearch.common.agent import run_rollouts
from zerosearch.common.search import make_backend, run_sync
from zerosearch.common.search.base import SearchRequest
from zerosearch.common.trajectory import RolloutConfig
from zerosearch.simulator.app import create_app
from zerosearch.simulator.local import serve_in_background
from zerosearch.simulator.settings import SimulatorSettings

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture(scope="module")
def simulator_url(bundled_model_path: str) -> Iterator[str]:
    """The real simulator app on a free local port (no Redis: it then runs without a cache)."""
    settings = SimulatorSettings(model=bundled_model_path, tokens_per_document=40, redis_url=None)
    with serve_in_background(create_app(settings)) as url:
        yield url


def test_a_group_sending_one_query_gets_one_set_of_documents(policy, simulator_url: str, nq_items) -> None:  # type: ignore[no-untyped-def]
    backend = make_backend("simulator", url=simulator_url, timeout_s=120, retries=1)
    group = [nq_items[0]] * 4  # one question, 4 rollouts (a GRPO group): rag sends the question as query
    base = RolloutConfig(method="rag", max_new_tokens=4, temperature=0.0, top_k=1, send_question=True)
    for documents_seed in range(1, 9):  # a 135M simulator does not always write a parseable document
        shared = run_rollouts(
            policy, backend, group, base.model_copy(update={"documents_seed": documents_seed})
        )
        if shared[0].searches[0].documents:
            break
    assert all(t.searches[0].documents for t in shared), "no seed gave a parsed document"
    assert len({t.prompt_text for t in shared}) == 1  # the same <information> block for the whole group
    fresh = run_rollouts(policy, backend, group, base)
    assert len({t.prompt_text for t in fresh}) > 1  # the paper's default: each search a new sample


def test_one_documents_seed_keeps_one_set_per_mode(simulator_url: str, nq_items) -> None:  # type: ignore[no-untyped-def]
    # shared_documents "run": the client sends the mode it drew with the run's documents seed.
    backend = make_backend("simulator", url=simulator_url, timeout_s=120, retries=1)
    question = nq_items[0].question
    request = SearchRequest(query=question, k=1, question=question, seed=3)
    useful, noisy = backend.search_batch(
        [request.model_copy(update={"mode": mode}) for mode in ("useful", "noisy")]
    )
    [useful_again] = backend.search_batch([request.model_copy(update={"mode": "useful"})])  # a later step
    assert (useful.mode, noisy.mode, useful_again.mode) == ("useful", "noisy", "useful")
    assert useful.formatted == useful_again.formatted  # the same set each time the mode comes up
    assert useful.formatted != noisy.formatted


def test_rag_over_the_real_simulator(policy, simulator_url: str, nq_items) -> None:  # type: ignore[no-untyped-def]
    backend = make_backend("simulator", url=simulator_url, timeout_s=120, retries=1)
    run_sync(backend.check())
    config = RolloutConfig(method="rag", max_new_tokens=8, temperature=0.0, top_k=1, seed=1)
    trajectories = run_rollouts(policy, backend, nq_items[:2], config)
    for item, traj in zip(nq_items[:2], trajectories, strict=True):
        [call] = traj.searches
        assert call.query == item.question and not call.failed, call.error
        assert call.mode in ("useful", "noisy") and "<information>" in traj.prompt_text
        assert len(traj.env_mask) == len(traj.completion_ids)
