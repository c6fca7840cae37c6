"""The agent loop: turn limits, invalid actions, the final no-search turn, masks and alignment.

The unit tests drive the loop with a scripted policy behind the Policy interface (the real tokenizer,
scripted text); the integration tests run the bundled model against real BM25 and a live HTTP simulator.
"""

from __future__ import annotations

import pytest

from tests.utils.fakes import EchoBackend, ScriptedPolicy
from zerosearch.common.agent import noise_mode, query_seed, run_rollouts, search_seed
from zerosearch.common.errors import ConfigError
from zerosearch.common.search.base import SearchRequest, SearchResult
from zerosearch.common.template import INVALID_ACTION
from zerosearch.common.trajectory import QAItem, RolloutConfig


def _items(*questions: str) -> list[QAItem]:
    return [QAItem(id=str(i), question=q, golden_answers=[f"gold {i}"]) for i, q in enumerate(questions)]


def test_always_searching_policy_gets_a_final_turn_without_search(tokenizer) -> None:  # type: ignore[no-untyped-def]
    backend = EchoBackend()
    policy = ScriptedPolicy(tokenizer, lambda turn, _: f"<think>t{turn}</think><search> q{turn} </search>")
    [traj] = run_rollouts(policy, backend, _items("q?"), RolloutConfig(max_turns=2))
    assert traj.turns == 3  # two search turns + the forced answer-only turn
    assert [s.query for s in traj.searches] == ["q1", "q2"]
    assert len(backend.requests) == 2  # the final turn's <search> was NOT executed
    assert traj.answer is None and traj.invalid_actions == 1
    assert "No more searches" in traj.completion_text


def test_neither_tag_inserts_the_invalid_action_observation(tokenizer) -> None:  # type: ignore[no-untyped-def]
    policy = ScriptedPolicy(
        tokenizer, lambda turn, _: "I am not sure." if turn == 1 else "<answer> Paris </answer>"
    )
    [traj] = run_rollouts(policy, EchoBackend(), _items("q?"), RolloutConfig(max_turns=3))
    assert traj.invalid_actions == 1 and traj.answer == "Paris" and traj.turns == 2
    inserted = [s for s in traj.segments if s.kind == "inserted"]
    assert inserted[0].text == INVALID_ACTION
    assert inserted[-1].ids == [tokenizer.eos_token_id]  # EOS after </answer>, masked


def test_segments_keep_model_and_inserted_ids_apart_and_round_trip(tokenizer) -> None:  # type: ignore[no-untyped-def]
    def script(turn: int, context: str) -> str:
        return "<search> moby dick </search>" if turn == 1 else "<think>ok</think><answer> Melville </answer>"

    [traj] = run_rollouts(ScriptedPolicy(tokenizer, script), EchoBackend(), _items("q?"), RolloutConfig())
    assert [s.kind for s in traj.segments] == ["model", "inserted", "model", "inserted"]
    assert traj.segments[1].text == "\n\n<information>Doc 1: (Title: T) about moby dick</information>\n\n"
    assert len(traj.env_mask) == len(traj.completion_ids)
    assert sum(traj.env_mask) == len(traj.model_ids)
    assert traj.model_ids + traj.inserted_ids != traj.completion_ids  # interleaved, not concatenated
    decoded = tokenizer.decode(traj.prompt_ids + traj.completion_ids)
    assert decoded == traj.prompt_text + traj.completion_text
    assert traj.answer == "Melville"


def test_per_sample_question_and_answer_alignment(tokenizer) -> None:  # type: ignore[no-untyped-def]
    backend = EchoBackend()

    def script(turn: int, context: str) -> str:
        # Query names the trajectory's own question so the request can be matched to it.
        question = context.rsplit("Question: ", 1)[1].split("\n")[0]
        return f"<search> {question} </search>" if turn == 1 else "<answer> x </answer>"

    items = _items("alpha?", "beta?", "gamma?", "alpha?")  # a repeated prompt stays a distinct trajectory
    config = RolloutConfig(send_question=True, send_answer=True, noise=0.3, top_k=3, seed=7)
    trajectories = run_rollouts(ScriptedPolicy(tokenizer, script), backend, items, config)
    assert backend.batches == [4]  # one concurrent call for the whole turn
    for item, traj in zip(items, trajectories, strict=True):
        assert traj.item is item and traj.searches[0].query == item.question
    for request in backend.requests:
        item = next(i for i in items if i.question == request.query and i.golden_answers[0] == request.answer)
        assert request.question == item.question and (request.noise, request.k) == (0.3, 3)
    seeds = sorted(r.seed for r in backend.requests)
    assert seeds == sorted(search_seed(7, i, 1) for i in range(4)) and len(set(seeds)) == 4


def test_documents_seed_gives_one_seed_per_question_and_query(tokenizer) -> None:  # type: ignore[no-untyped-def]
    backend = EchoBackend()

    def script(turn: int, context: str) -> str:
        question = context.rsplit("Question: ", 1)[1].split("\n")[0]
        return f"<search> {question.rstrip('?')} </search>" if turn == 1 else "<answer> x </answer>"

    items = _items("alpha?", "alpha?", "alpha?", "beta?")  # a group of 3 and another question
    config = RolloutConfig(send_question=True, seed=7, documents_seed=99)
    run_rollouts(ScriptedPolicy(tokenizer, script), backend, items, config)
    seeds = {(r.question, r.seed) for r in backend.requests}
    assert seeds == {
        ("alpha?", query_seed(99, "alpha?", "alpha")),
        ("beta?", query_seed(99, "beta?", "beta")),
    }
    assert query_seed(99, "alpha?", "alpha") != query_seed(100, "alpha?", "alpha")  # a new step: new draw
    assert query_seed(99, "alpha?", "alpha") != query_seed(99, "alpha?", "alpha beta")
    assert all(0 <= seed < 2**31 for _, seed in seeds)


def test_noise_seed_draws_each_call_on_the_client_and_keeps_the_documents_seed(tokenizer) -> None:  # type: ignore[no-untyped-def]
    backend = EchoBackend()

    def script(turn: int, context: str) -> str:
        question = context.rsplit("Question: ", 1)[1].split("\n")[0]
        return f"<search> {question.rstrip('?')} </search>" if turn == 1 else "<answer> x </answer>"

    questions = [f"q{i}?" for i in range(40)]
    items = _items(*questions, *questions)  # every question twice: a group of 2 that sends one query
    config = RolloutConfig(send_question=True, documents_seed=99, noise_seed=5, noise=0.5)
    run_rollouts(ScriptedPolicy(tokenizer, script), backend, items, config)
    sent: dict[str, list[tuple[int | None, str | None]]] = {}
    for r in backend.requests:
        sent.setdefault(r.question or "", []).append((r.seed, r.mode))
    split_groups = 0
    for i, question in enumerate(questions):
        query = question.rstrip("?")
        # the documents seed is the run's, shared by the group; each call draws its own mode (index, turn 1)
        expected = [
            (query_seed(99, question, query), noise_mode(5, question, j, 1, 0.5)) for j in (i, i + 40)
        ]
        assert sorted(sent[question], key=str) == sorted(expected, key=str)
        split_groups += len({mode for _, mode in sent[question]}) == 2
    modes = [mode for calls in sent.values() for _, mode in calls]
    assert 25 <= modes.count("noisy") <= 55  # about half of 80 calls at p = 0.5
    assert 8 <= split_groups <= 32  # about half of the groups: one rollout useful, the other noisy
    draws = [noise_mode(5, q, i, 1, 0.5) for i, q in enumerate(questions)]
    assert [noise_mode(6, q, i, 1, 0.5) for i, q in enumerate(questions)] != draws  # next step: new draws
    assert [noise_mode(5, q, i, 2, 0.5) for i, q in enumerate(questions)] != draws  # next turn: its own
    assert {noise_mode(5, q, i, 1, 0.0) for i, q in enumerate(questions)} == {"useful"}
    assert {noise_mode(5, q, i, 1, 1.0) for i, q in enumerate(questions)} == {"noisy"}
    backend.requests.clear()
    run_rollouts(
        ScriptedPolicy(tokenizer, script), backend, items[:2], config.model_copy(update={"noise_seed": None})
    )
    assert {r.mode for r in backend.requests} == {None}  # without it the simulator draws the mode


def test_evaluation_default_sends_no_question_or_answer(tokenizer) -> None:  # type: ignore[no-untyped-def]
    backend = EchoBackend()
    policy = ScriptedPolicy(
        tokenizer, lambda turn, _: "<search> q </search>" if turn == 1 else "<answer>a</answer>"
    )
    run_rollouts(policy, backend, _items("q?"), RolloutConfig())
    assert backend.requests[0].question is None and backend.requests[0].answer is None
    assert backend.requests[0].seed is None


def test_completion_budget_truncates(tokenizer) -> None:  # type: ignore[no-untyped-def]
    policy = ScriptedPolicy(tokenizer, lambda turn, _: "<search> a long query about things </search>")
    [traj] = run_rollouts(policy, EchoBackend(), _items("q?"), RolloutConfig(max_completion_tokens=20))
    assert traj.truncated and len(traj.completion_ids) == 20


def test_rag_searches_once_with_the_question_and_direct_never(tokenizer) -> None:  # type: ignore[no-untyped-def]
    backend = EchoBackend()
    policy = ScriptedPolicy(tokenizer, lambda turn, _: "<answer> x </answer>")
    [rag] = run_rollouts(policy, backend, _items("who?"), RolloutConfig(method="rag"))
    assert [r.query for r in backend.requests] == ["who?"] and "about who?" in rag.prompt_text
    assert rag.answer == "x" and rag.turns == 1
    [direct] = run_rollouts(policy, None, _items("who?"), RolloutConfig(method="direct"))
    assert direct.searches == [] and direct.answer == "x" and len(backend.requests) == 1


def test_search_methods_need_a_backend(tokenizer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="needs a search backend"):
        run_rollouts(ScriptedPolicy(tokenizer, lambda *_: ""), None, _items("q?"), RolloutConfig())


def test_on_turn_reports_progress_and_batches_shrink(tokenizer) -> None:  # type: ignore[no-untyped-def]
    seen: list[int] = []

    def script(turn: int, context: str) -> str:
        return (
            "<answer> now </answer>" if "Question: alpha" in context or turn > 1 else "<search> q </search>"
        )

    policy = ScriptedPolicy(tokenizer, script)
    run_rollouts(
        policy,
        EchoBackend(),
        _items("alpha?", "beta?"),
        RolloutConfig(),
        on_turn=lambda t, _: seen.append(t),
    )
    assert seen == [1, 2] and policy.calls == [2, 1]  # finished trajectories leave the batch


def test_a_block_that_exactly_fills_the_budget_ends_the_trajectory(tokenizer) -> None:  # type: ignore[no-untyped-def]
    model = len(tokenizer.encode("<search> q </search>", add_special_tokens=False))
    block = "\n\n<information>Doc 1: (Title: T) about q</information>\n\n"
    budget = model + len(tokenizer.encode(block, add_special_tokens=False))
    policy = ScriptedPolicy(tokenizer, lambda turn, _: "<search> q </search>")
    [traj] = run_rollouts(policy, EchoBackend(), _items("q?"), RolloutConfig(max_completion_tokens=budget))
    assert traj.truncated and traj.turns == 1 and len(traj.completion_ids) == budget and policy.calls == [1]


def test_timings_split_rollout_time_into_generation_and_search(tokenizer) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    class SlowBackend(EchoBackend):
        async def _search_once(self, request: SearchRequest) -> SearchResult:
            await asyncio.sleep(0.2)
            return await super()._search_once(request)

    class SlowPolicy(ScriptedPolicy):
        def generate(self, prompts, **kwargs):  # type: ignore[no-untyped-def]
            import time

            time.sleep(0.1)
            return super().generate(prompts, **kwargs)

    policy = SlowPolicy(
        tokenizer, lambda turn, _: "<search> q </search>" if turn == 1 else "<answer>a</answer>"
    )
    timings: dict[str, float] = {}
    run_rollouts(policy, SlowBackend(), _items("q1?", "q2?"), RolloutConfig(max_turns=1), timings=timings)
    assert timings["search_s"] >= 0.2  # one search turn of 0.2 s (both searches concurrently)
    assert timings["generate_s"] >= 0.2  # two generate calls of 0.1 s
