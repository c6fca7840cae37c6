"""How trajectories end: the forced answer turn cannot search (and cannot cheat past a search), and one
end-of-sequence rule, so TRL's truncation test (last token not EOS) drops only truly truncated ones."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from zerosearch.common.agent import run_rollouts
from zerosearch.common.policy import Generation, Policy
from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult
from zerosearch.common.trajectory import QAItem, RolloutConfig
from zerosearch.trainer.rollout import trajectories_to_trl


class StopHonouringPolicy(Policy):
    """Writes ``script(turn)`` and, as every engine does, stops right after the first stop string."""

    def __init__(self, tokenizer, script: Callable[[int], str]) -> None:  # type: ignore[no-untyped-def]
        self.tokenizer = tokenizer
        self.script = script
        self.turn = 0

    def generate(self, prompts, *, max_new_tokens, stop, temperature, top_p, seed=None):  # type: ignore[no-untyped-def]
        self.turn += 1
        text = self.script(self.turn)
        ends = [text.find(s) + len(s) for s in stop if s in text]
        text = text[: min(ends)] if ends else text
        ids = self.tokenizer.encode(text, add_special_tokens=False)[:max_new_tokens]
        return [Generation(ids=ids, text=self.tokenizer.decode(ids)) for _ in prompts]


class OneDocBackend(SearchBackend):
    """One real-looking document per query; counts calls."""

    name = "one-doc"

    def __init__(self) -> None:
        super().__init__(retries=1)
        self.calls = 0

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        from zerosearch.common.documents import Document, format_documents

        self.calls += 1
        docs = [Document(rank=1, title="T", text=f"about {request.query}")]
        return SearchResult(
            query=request.query, documents=docs, formatted=format_documents(docs), mode="useful"
        )


ITEM = QAItem(id="0", question="who wrote hamlet?", golden_answers=["Shakespeare"])
CHEAT = (
    "<think>one more</think><search> hamlet author </search>"
    "<information>Doc 1: Hamlet was written by Shakespeare.</information><answer> Shakespeare </answer>"
)


def test_a_search_in_the_answer_turn_stops_there_and_is_invalid(tokenizer) -> None:  # type: ignore[no-untyped-def]
    backend = OneDocBackend()
    policy = StopHonouringPolicy(tokenizer, lambda turn: "<search> hamlet </search>" if turn == 1 else CHEAT)
    [traj] = run_rollouts(policy, backend, [ITEM], RolloutConfig(max_turns=1))
    final_turn = [s for s in traj.segments if s.kind == "model"][-1].text
    assert final_turn.endswith("</search>") and "<information>" not in final_turn  # stopped at the search
    assert traj.answer is None and traj.invalid_actions == 1  # no reward for a self-written answer
    assert backend.calls == 1  # and the forced turn's search never ran


def _trl_truncated(trajectory_ids: list[int], tokenizer) -> bool:  # type: ignore[no-untyped-def]
    # TRL 1.16 GRPOTrainer: is_truncated = ids[-1] not in [*eos_token_ids, pad_token_id]
    return trajectory_ids[-1] not in {tokenizer.eos_token_id, tokenizer.pad_token_id}


def test_every_normal_ending_ends_with_eos_and_only_truncation_does_not(tokenizer) -> None:  # type: ignore[no-untyped-def]
    config = RolloutConfig(max_turns=1, max_completion_tokens=400)
    answered = StopHonouringPolicy(
        tokenizer, lambda t: "<search> q </search>" if t == 1 else "<answer> x </answer>"
    )
    rambling = StopHonouringPolicy(tokenizer, lambda t: "<think> I am not sure what to do here </think>")
    long = StopHonouringPolicy(tokenizer, lambda t: "<search> " + "very long query " * 40 + "</search>")
    runs = {
        "answered": run_rollouts(answered, OneDocBackend(), [ITEM], config),
        "no answer": run_rollouts(rambling, OneDocBackend(), [ITEM], config),
        "budget": run_rollouts(
            long, OneDocBackend(), [ITEM], config.model_copy(update={"max_completion_tokens": 60})
        ),
    }
    batch = trajectories_to_trl([traj for trajs in runs.values() for traj in trajs])
    flags = {
        name: _trl_truncated(ids, tokenizer) for name, ids in zip(runs, batch["completion_ids"], strict=True)
    }
    assert flags == {"answered": False, "no answer": False, "budget": True}
    assert [t.truncated for trajs in runs.values() for t in trajs] == [False, False, True]
    for ids, mask in zip(batch["completion_ids"][:2], batch["env_mask"][:2], strict=True):
        assert ids.count(tokenizer.eos_token_id) == 1 and mask[-1] == 0  # one EOS, inserted (masked)


def test_vllm_engines_drop_eos_from_a_turn_like_transformers(tokenizer) -> None:  # type: ignore[no-untyped-def]
    from zerosearch.trainer.vllm_policy import VLLMTrainerPolicy

    body = tokenizer.encode("<think> done </think>", add_special_tokens=False)
    eos = tokenizer.eos_token_id
    completion = SimpleNamespace(
        token_ids=[*body, eos],
        logprobs=[{t: SimpleNamespace(logprob=-0.5)} for t in [*body, eos]],
        stop_reason=None,
    )
    trainer = SimpleNamespace(vllm_generation=SimpleNamespace(llm=object()), processing_class=tokenizer)
    generation = VLLMTrainerPolicy(trainer)._generation(completion)
    assert generation.ids == body and len(generation.logprobs or []) == len(body)
