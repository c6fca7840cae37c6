"""The rollout function: per-sample alignment of questions/answers/golds, env_mask token by token, stats.

Runs the real shared agent loop with the bundled tokenizer; only the Policy and the SearchBackend are
stand-ins (the two seams), so these tests take a second.
"""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from tests.utils.fakes import EchoBackend, QuestionPolicy
from zerosearch.common.agent import query_seed
from zerosearch.common.trajectory import QAItem, RolloutConfig
from zerosearch.trainer.curriculum import Curriculum
from zerosearch.trainer.reward import make_reward_function
from zerosearch.trainer.rollout import SearchRollout

ITEMS = [
    QAItem(id="q1", question="who wrote moby dick", golden_answers=["Herman Melville", "Melville"]),
    QAItem(id="q2", question="capital of france", golden_answers=["Paris"]),
    QAItem(id="q3", question="largest planet", golden_answers=["Jupiter"]),
]
GOLD = {item.question: item.golden_answers[0] for item in ITEMS}


@pytest.fixture(scope="module")
def tokenizer(bundled_model_path: str):  # type: ignore[no-untyped-def]
    from zerosearch.common.models import load_tokenizer

    return load_tokenizer(bundled_model_path)


def _rollout(tokenizer, answer_for, backend=None):  # type: ignore[no-untyped-def]
    backend = backend or EchoBackend()
    policy = QuestionPolicy(tokenizer, answer_for)
    settings = RolloutConfig(max_turns=1, max_new_tokens=64, max_completion_tokens=512, top_k=1)
    rollout = SearchRollout(ITEMS, backend, settings, Curriculum(total_steps=10), lambda trainer: policy)
    return rollout, policy, backend


def test_each_search_carries_its_own_question_and_answer(tokenizer) -> None:  # type: ignore[no-untyped-def]
    rollout, _, backend = _rollout(tokenizer, GOLD.get)
    # TRL's order: each question num_generations (2) times in a row.
    prompts = [q for item in ITEMS for q in [item.question] * 2]
    trainer = SimpleNamespace(state=SimpleNamespace(global_step=4))
    out = rollout(prompts, trainer)
    assert len(backend.requests) == 6
    for request in backend.requests:
        question = request.query.removeprefix("facts about ").strip()
        assert request.question == question  # never another sample's question
        assert request.answer == GOLD[question]  # and its own first gold answer
        assert request.noise == pytest.approx(Curriculum(total_steps=10)(5))  # 0-based step 4 → step 5
    assert out["golden_answers"] == [item.golden_answers for item in ITEMS for _ in range(2)]
    assert out["answer"] == [GOLD[q] for q in prompts]
    assert rollout.last_stats is not None and rollout.last_stats.step == 5
    assert rollout.last_stats.searches_per_rollout == 1.0


@pytest.mark.parametrize("each_step", [True, False], ids=["step", "run"])
def test_shared_documents_seed_by_query_per_step_or_per_run(tokenizer, each_step: bool) -> None:  # type: ignore[no-untyped-def]
    backend = EchoBackend()
    settings = RolloutConfig(
        max_turns=1, max_new_tokens=64, max_completion_tokens=512, top_k=1, documents_seed=42
    )
    policy = QuestionPolicy(tokenizer, GOLD.get)
    rollout = SearchRollout(
        ITEMS,
        backend,
        settings,
        Curriculum(total_steps=10),
        lambda trainer: policy,
        documents_each_step=each_step,
    )
    prompts = [q for item in ITEMS[:2] for q in [item.question] * 3]
    seeds_by_step = []
    for step in (0, 1):
        backend.requests.clear()
        rollout(prompts, SimpleNamespace(state=SimpleNamespace(global_step=step)))
        by_question: dict[str, set[int | None]] = {}
        for request in backend.requests:
            by_question.setdefault(request.question or "", set()).add(request.seed)
        assert all(len(seeds) == 1 for seeds in by_question.values()), by_question  # one draw per group
        assert None not in by_question[ITEMS[0].question]
        seeds_by_step.append(by_question)
        # "run" draws useful/noisy on the client (the documents stay per mode); "step" leaves it to the seed
        assert {request.mode is not None for request in backend.requests} == {not each_step}
    changed = seeds_by_step[0][ITEMS[0].question] != seeds_by_step[1][ITEMS[0].question]
    assert changed is each_step  # "step": new documents every step; "run": the same all run
    assert rollout.settings.documents_seed == 42  # the base is kept; each step derives its own
    assert rollout.settings.noise_seed is None


def test_shared_documents_per_run_draw_the_mode_anew_each_step(tokenizer) -> None:  # type: ignore[no-untyped-def]
    backend = EchoBackend()
    settings = RolloutConfig(
        max_turns=1, max_new_tokens=64, max_completion_tokens=512, top_k=1, documents_seed=42
    )
    policy = QuestionPolicy(tokenizer, GOLD.get)
    rollout = SearchRollout(
        ITEMS, backend, settings, Curriculum(kind="constant", p_end=0.5, total_steps=4), lambda trainer: policy,
        documents_each_step=False,
    )  # fmt: skip
    prompts = [item.question for item in ITEMS for _ in range(4)]  # groups of 4, as TRL hands them
    modes: dict[str, set[str | None]] = {item.question: set() for item in ITEMS}
    split_groups = 0
    for step in range(12):
        backend.requests.clear()
        rollout(prompts, SimpleNamespace(state=SimpleNamespace(global_step=step)))
        assert {request.seed for request in backend.requests} == {
            query_seed(42, request.question or "", request.query) for request in backend.requests
        }  # the documents seed never moves, and a group's query has one
        for item in ITEMS:
            group = {request.mode for request in backend.requests if request.question == item.question}
            modes[item.question] |= group
            split_groups += group == {"useful", "noisy"}
    # at p = 0.5 a question is useful some steps and noisy others (a per-run draw would fix it) ...
    assert all(seen == {"useful", "noisy"} for seen in modes.values()), modes
    # ... and each rollout of a group draws on its own (one draw per group would never split it)
    assert split_groups >= 12, split_groups


def test_rollout_settings_seed_searches_by_query_only_when_asked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from zerosearch.trainer.config import TrainConfig
    from zerosearch.trainer.grpo import rollout_settings

    base = {"model": "smollm2-135m", "output_dir": str(tmp_path), "seed": 5, "datasets": ["nq"]}
    base["simulator_url"] = "http://127.0.0.1:8000"
    assert rollout_settings(TrainConfig(**base)).documents_seed is None  # the paper: every search fresh
    for shared in ("step", "run"):
        settings = rollout_settings(TrainConfig(**base, shared_documents=shared))
        assert settings.documents_seed == 5 and settings.seed is None  # policy sampling stays unseeded


def test_reward_of_sample_i_uses_sample_i_golds(tokenizer) -> None:  # type: ignore[no-untyped-def]
    # The policy always answers "Paris": only q2's samples may score.
    rollout, _, _ = _rollout(tokenizer, lambda q: "Paris")
    prompts = [q for item in ITEMS for q in [item.question] * 2]
    out = rollout(prompts, SimpleNamespace(state=SimpleNamespace(global_step=0)))
    reward = make_reward_function("f1")
    scores = reward(completions=prompts, answer=out["answer"], golden_answers=out["golden_answers"])
    assert scores == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def _token_spans(tokenizer, ids: list[int]) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    spans, previous = [], 0
    for i in range(len(ids)):
        end = len(tokenizer.decode(ids[: i + 1]))
        spans.append((previous, end))
        previous = end
    return spans


def test_env_mask_token_by_token(tokenizer) -> None:  # type: ignore[no-untyped-def]
    rollout, policy, _ = _rollout(tokenizer, GOLD.get)
    out = rollout([item.question for item in ITEMS], SimpleNamespace(state=SimpleNamespace(global_step=0)))
    n = len(ITEMS)  # turn 1 generates for every item in one batch, then turn 2
    for i, (ids, mask) in enumerate(zip(out["completion_ids"], out["env_mask"], strict=True)):
        assert len(ids) == len(mask)
        text = tokenizer.decode(ids)
        start, end = text.index("<information>"), text.index("</information>") + len("</information>")
        for (a, b), bit in zip(_token_spans(tokenizer, ids), mask, strict=True):
            if a < end and b > start:  # the token overlaps the <information> block
                assert bit == 0, f"inserted token {text[a:b]!r} would be trained on"
        # Every token the model sampled is in the loss, in order, and nothing else is.
        model_tokens = [t for t, bit in zip(ids, mask, strict=True) if bit == 1]
        assert model_tokens == policy.generated[i] + policy.generated[n + i]


def test_unknown_prompt_is_refused(tokenizer) -> None:  # type: ignore[no-untyped-def]
    rollout, _, _ = _rollout(tokenizer, GOLD.get)
    with pytest.raises(KeyError, match="not a training question"):
        rollout(["something else"], SimpleNamespace(state=SimpleNamespace(global_step=0)))


def test_failed_searches_fall_back_and_are_counted(tokenizer) -> None:  # type: ignore[no-untyped-def]
    # A simulator that is down (restarting): every attempt fails; bounded retries, no waiting in the test.
    backend = EchoBackend(fail=httpx.ConnectError("simulator restarting"), retries=2)
    rollout, _, _ = _rollout(tokenizer, GOLD.get, backend=backend)
    out = rollout([ITEMS[0].question], SimpleNamespace(state=SimpleNamespace(global_step=0)))
    assert len(backend.requests) == 2  # one search, two attempts, then the fallback
    assert "No information available." in tokenizer.decode(out["completion_ids"][0])
    stats = rollout.last_stats
    assert stats is not None and stats.failed_searches == 1
    assert stats.as_metrics()["failed_searches"] == 1.0


class _NoisyFor(EchoBackend):
    """Noisy documents for one question's searches, useful ones for the others."""

    def __init__(self, noisy_question: str) -> None:
        super().__init__()
        self.noisy_question = noisy_question

    async def _search_once(self, request):  # type: ignore[no-untyped-def]
        result = await super()._search_once(request)
        return result.model_copy(
            update={"mode": "noisy" if request.question == self.noisy_question else "useful"}
        )


def test_stats_split_the_reward_by_what_the_searches_returned(tokenizer) -> None:  # type: ignore[no-untyped-def]
    # q1 and q2 get useful documents and are answered right; q3 gets noisy ones and is answered wrong.
    answers = {**GOLD, ITEMS[2].question: "Saturn"}
    rollout, _, _ = _rollout(tokenizer, answers.get, backend=_NoisyFor(ITEMS[2].question))
    rollout([item.question for item in ITEMS], SimpleNamespace(state=SimpleNamespace(global_step=0)))
    stats = rollout.last_stats
    assert stats is not None and (stats.useful_rollouts, stats.noisy_rollouts) == (2, 1)
    metrics = stats.as_metrics()
    assert (metrics["reward_useful"], metrics["reward_noisy"]) == (1.0, 0.0)
    rollout, _, _ = _rollout(tokenizer, GOLD.get)  # every search useful: no noisy reward to report
    rollout([ITEMS[0].question], SimpleNamespace(state=SimpleNamespace(global_step=0)))
    assert rollout.last_stats is not None and "reward_noisy" not in rollout.last_stats.as_metrics()
    assert rollout.last_stats.as_metrics()["reward_useful"] == 1.0
