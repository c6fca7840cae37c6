"""The agent loop with the bundled SmolLM2-135M against real BM25 and a live HTTP simulator.

Generations are kept short (16-24 new tokens, greedy) so the file runs in about half a minute on 2 cores.
"""

from __future__ import annotations

import pytest

from zerosearch.common.agent import run_rollouts
from zerosearch.common.search.simulator import SimulatorBackend
from zerosearch.common.trajectory import RolloutConfig, Trajectory

pytestmark = pytest.mark.model


def _check_invariants(traj: Trajectory, tokenizer, max_turns: int) -> None:  # type: ignore[no-untyped-def]
    assert 1 <= traj.turns <= max_turns + 1
    assert len(traj.env_mask) == len(traj.completion_ids)
    assert tokenizer.decode(traj.prompt_ids + traj.completion_ids) == traj.prompt_text + traj.completion_text
    for segment in traj.segments:
        assert segment.ids and segment.text == tokenizer.decode(segment.ids)
        if segment.kind == "model":
            assert segment.logprobs is not None and len(segment.logprobs) == len(segment.ids)
            assert all(lp <= 0 for lp in segment.logprobs)
            assert tokenizer.eos_token_id not in segment.ids  # EOS only ever comes as a masked insert


def test_agent_with_bundled_model_and_bm25(policy, bm25_backend, nq_items) -> None:  # type: ignore[no-untyped-def]
    config = RolloutConfig(max_turns=1, max_new_tokens=16, temperature=0.0, seed=3)
    calls: list[int] = []
    original = bm25_backend.retrieve

    def counted(queries, k):  # type: ignore[no-untyped-def]
        calls.append(len(queries))
        return original(queries, k)

    bm25_backend.retrieve = counted
    try:
        trajectories = run_rollouts(policy, bm25_backend, nq_items[:2], config)
    finally:
        del bm25_backend.retrieve
    assert [t.item for t in trajectories] == nq_items[:2]
    for traj in trajectories:
        _check_invariants(traj, policy.tokenizer, max_turns=1)
        assert len(traj.searches) <= 1  # one search turn, the final turn never searches
    assert sum(calls) == sum(len(t.searches) for t in trajectories)


def test_rag_with_bundled_model_over_a_live_simulator(policy, live_simulator, nq_items) -> None:  # type: ignore[no-untyped-def]
    simulator = live_simulator
    backend = SimulatorBackend(simulator.url, retries=1)
    config = RolloutConfig(method="rag", max_new_tokens=16, temperature=0.0, top_k=3)
    trajectories = run_rollouts(policy, backend, nq_items[:2], config)
    # One batch POST carried both questions; documents came back into each prompt.
    assert [len(c.body["requests"]) for c in simulator.calls if c.path == "/search"] == [2]
    for item, traj in zip(nq_items[:2], trajectories, strict=True):
        assert traj.searches[0].query == item.question and traj.searches[0].mode == "useful"
        assert 1 <= len(traj.searches[0].documents) <= 3
        assert "<information>Doc 1:" in traj.prompt_text
        _check_invariants(traj, policy.tokenizer, max_turns=0)
    assert all("answer" not in r and "question" not in r for r in simulator.requests)  # evaluation default


def test_agent_with_bundled_model_over_a_live_simulator(policy, live_simulator, nq_items) -> None:  # type: ignore[no-untyped-def]
    simulator = live_simulator
    backend = SimulatorBackend(simulator.url, retries=1)
    config = RolloutConfig(
        max_turns=1, max_new_tokens=16, temperature=1.0, seed=11, send_question=True, send_answer=True
    )
    items = nq_items[3:5]
    trajectories = run_rollouts(policy, backend, items, config)
    assert len(simulator.requests) == sum(len(t.searches) for t in trajectories)
    for traj in trajectories:
        _check_invariants(traj, policy.tokenizer, max_turns=1)
    for request in simulator.requests:  # each request carries its own trajectory's question and answer
        owner = next(t.item for t in trajectories if any(s.query == request["q"] for s in t.searches))
        assert request["question"] == owner.question and request["answer"] == owner.golden_answers[0]
