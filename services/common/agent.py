"""The agent loop shared by the trainer and the evaluator: batched multi-turn rollouts with search.

Each turn generates for every active trajectory in ONE batched call, stopping at ``</search>`` or
``</answer>``; all searches of the turn go to ``backend.search_many`` at once (concurrent), so a turn
costs about one search latency. Search results come back as ``<information>`` blocks, tokenized on their
own and kept apart (``inserted`` segments, env_mask 0) from the sampled ids (``model`` segments). After
``max_turns`` one answer-only turn runs that makes NO search call (defect 5 of the reference code); it
still stops at ``</search>``, and a search there counts as an invalid action, so the model cannot go on
to write its own ``<information>`` and an answer after it.

One end-of-sequence rule, whatever the policy engine: policies return turns without EOS, and every
trajectory that finished normally (answered, or its last turn ended) gets exactly one inserted EOS; a
trajectory that ran out of completion budget ends without one and is marked ``truncated``. So TRL's
"last token is not EOS" test (``mask_truncated_completions``) drops exactly the truncated ones.

Search seeds: with ``documents_seed`` set, a search is seeded by (that seed, question, query), so the
trajectories of one batch that send the same query for the same question get the same documents and the
same noisy/useful draw (the simulator generates them once). With ``noise_seed`` also set, the loop draws
the mode itself, once per search call as in the paper (from noise_seed, question, trajectory and turn), and
sends it: the documents of a query stay fixed per mode, while each rollout of a group draws useful or noisy
on its own and the draw follows ``noise_seed`` (the trainer changes it every step). Otherwise each
trajectory and turn has its own seed (``seed``), or none: every search a fresh sample.

    trajectories = run_rollouts(policy, backend, items, RolloutConfig(max_turns=2, temperature=0.0))
    trajectories[0].answer, trajectories[0].completion_ids, trajectories[0].env_mask
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from zerosearch.common.errors import ConfigError
from zerosearch.common.policy import Policy
from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult
from zerosearch.common.template import (
    ANSWER_STOP,
    INVALID_ACTION,
    SEARCH_STOP,
    answer_only_instruction,
    build_prompt,
    information_block,
    parse_action,
)
from zerosearch.common.trajectory import QAItem, RolloutConfig, SearchCall, Segment, Trajectory

__all__ = ["TurnCallback", "noise_mode", "query_seed", "run_rollouts", "search_seed"]

log = logging.getLogger(__name__)

TurnCallback = Callable[[int, list[Trajectory]], None]
"""Called after every turn with the 1-based turn number and all trajectories (progress reporting)."""


def search_seed(seed: int | None, index: int, turn: int) -> int | None:
    """The simulator seed of one search: distinct per trajectory and turn, reproducible per run seed."""
    if seed is None:
        return None
    # 1000 turns per trajectory index keeps (index, turn) pairs apart; 2**31 keeps it a valid int32 seed.
    return (seed + 1000 * index + turn) % 2**31


def _digest_seed(*parts: object) -> int:
    """A valid int32 seed from ``parts``, stable across processes (unlike ``hash``)."""
    digest = hashlib.sha256("\0".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % 2**31


def query_seed(documents_seed: int, question: str, query: str) -> int:
    """The simulator seed of a search shared by every trajectory that sends ``query`` for ``question``."""
    return _digest_seed(documents_seed, question, query)


def noise_mode(
    noise_seed: int, question: str, index: int, turn: int, noise: float
) -> Literal["useful", "noisy"]:
    """The useful/noisy draw of one search call (trajectory ``index``, ``turn``), made on the client:
    noisy with probability ``noise``, each call on its own (the paper draws once per call, so the rollouts
    of a group that send the same query do not share one draw)."""
    draw = random.Random(_digest_seed(noise_seed, question, index, turn)).random()
    return "noisy" if draw < noise else "useful"


@dataclass
class _Rollout:
    """One trajectory while it runs: where it stands and how much budget it has left."""

    index: int
    trajectory: Trajectory
    budget: int
    done: bool = False
    pending_query: str | None = None
    history: list[int] = field(default_factory=list)

    @property
    def context(self) -> list[int]:
        return self.trajectory.prompt_ids + self.history


class _Loop:
    """Runs the turns of one batch; split from :func:`run_rollouts` to keep each step short."""

    def __init__(
        self,
        policy: Policy,
        backend: SearchBackend | None,
        config: RolloutConfig,
        timings: dict[str, float] | None = None,
    ) -> None:
        self.policy = policy
        self.tokenizer = policy.tokenizer
        self.backend = backend
        self.config = config
        self.timings = timings if timings is not None else {}
        self.timings.setdefault("generate_s", 0.0)
        self.timings.setdefault("search_s", 0.0)

    # -- building blocks -------------------------------------------------------------------------
    def request(self, item: QAItem, index: int, query: str, turn: int) -> SearchRequest:
        """A search request carrying THIS trajectory's question/answer only when the config says so."""
        return SearchRequest(
            query=query,
            k=self.config.top_k,
            noise=self.config.noise,
            question=item.question if self.config.send_question else None,
            answer=item.golden_answers[0] if self.config.send_answer and item.golden_answers else None,
            seed=self.seed(item, index, query, turn),
            mode=self.mode(item, index, turn),
        )

    def mode(self, item: QAItem, index: int, turn: int) -> Literal["useful", "noisy"] | None:
        """The mode drawn here (``noise_seed`` with ``documents_seed``), else None: the simulator draws it."""
        if self.config.documents_seed is None or self.config.noise_seed is None:
            return None
        return noise_mode(self.config.noise_seed, item.question, index, turn, self.config.noise)

    def seed(self, item: QAItem, index: int, query: str, turn: int) -> int | None:
        """One search's simulator seed: shared by query when ``documents_seed`` is set, else per trajectory."""
        if self.config.documents_seed is not None:
            return query_seed(self.config.documents_seed, item.question, query)
        return search_seed(self.config.seed, index, turn)

    def search(self, requests: list[SearchRequest]) -> list[SearchResult]:
        """All searches of one turn in one concurrent call."""
        if not requests:
            return []
        assert self.backend is not None  # checked in run_rollouts for methods that search
        start = time.perf_counter()
        try:
            return self.backend.search_batch(requests)
        finally:
            self.timings["search_s"] += time.perf_counter() - start

    def insert(self, rollout: _Rollout, text: str) -> None:
        """Append inserted text (masked); cut it to the remaining budget and stop when it runs out."""
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) > rollout.budget:
            ids = ids[: rollout.budget]
            text = self.tokenizer.decode(ids, skip_special_tokens=False)
            rollout.trajectory.truncated = True
            rollout.done = True
        if ids:
            rollout.trajectory.segments.append(Segment("inserted", ids, text))
            rollout.history.extend(ids)
            rollout.budget -= len(ids)
        if rollout.budget <= 0:  # nothing left for the model to write: end here, marked truncated
            rollout.trajectory.truncated = True
            rollout.done = True

    def finish(self, rollout: _Rollout) -> None:
        """The end-of-sequence rule: one inserted (masked) EOS ends every normally finished trajectory; one
        with no budget left for it filled the whole completion and counts as truncated."""
        eos = self.tokenizer.eos_token_id
        if rollout.trajectory.truncated or eos is None:
            return
        if rollout.budget <= 0:
            rollout.trajectory.truncated = True
            return
        rollout.trajectory.segments.append(Segment("inserted", [eos], self.tokenizer.eos_token))
        rollout.history.append(eos)
        rollout.budget -= 1

    # -- one turn --------------------------------------------------------------------------------
    def generate(self, active: list[_Rollout], turn: int, *, final: bool) -> None:
        """One batched generation; record each turn's model segment and decide its action."""
        stop = [SEARCH_STOP, ANSWER_STOP]  # the final turn too: a search there ends it, as invalid
        limit = max(min(self.config.max_new_tokens, r.budget) for r in active)
        seed = None if self.config.seed is None else self.config.seed + turn
        start = time.perf_counter()
        generations = self.policy.generate(
            [r.context for r in active],
            max_new_tokens=limit,
            stop=stop,
            temperature=self.config.temperature,
            top_p=self.config.top_p,
            seed=seed,
        )
        self.timings["generate_s"] += time.perf_counter() - start
        for rollout, generation in zip(active, generations, strict=True):
            ids, text, logprobs = generation.ids, generation.text, generation.logprobs
            if len(ids) > rollout.budget:  # a shared limit: trim rows whose own budget is smaller
                ids, logprobs = ids[: rollout.budget], logprobs[: rollout.budget] if logprobs else logprobs
                text = self.tokenizer.decode(ids, skip_special_tokens=False)
            trajectory = rollout.trajectory
            trajectory.turns += 1
            if ids:
                trajectory.segments.append(Segment("model", list(ids), text, logprobs))
                rollout.history.extend(ids)
                rollout.budget -= len(ids)
            self.act(rollout, text, final=final)

    def act(self, rollout: _Rollout, text: str, *, final: bool) -> None:
        """Answer, queue a search, or insert the invalid-action observation."""
        trajectory = rollout.trajectory
        action = parse_action(text, allow_search=not final)
        if action.kind == "answer":
            trajectory.answer = action.content
            rollout.done = True
        elif action.kind == "search":
            rollout.pending_query = action.content
        else:
            trajectory.invalid_actions += 1
            if final:
                rollout.done = True
            else:
                self.insert(rollout, INVALID_ACTION)
        if not rollout.done and rollout.budget <= 0:
            trajectory.truncated = True
            rollout.done = True

    def run_searches(self, active: list[_Rollout], turn: int) -> None:
        """Issue the turn's queued searches together and insert each result block."""
        searching = [r for r in active if r.pending_query is not None and not r.done]
        requests = [self.request(r.trajectory.item, r.index, r.pending_query or "", turn) for r in searching]
        for rollout, request, result in zip(searching, requests, self.search(requests), strict=True):
            rollout.pending_query = None
            rollout.trajectory.searches.append(
                SearchCall(request.query, result.mode, result.documents, result.failed, result.error)
            )
            self.insert(rollout, information_block(result.formatted))


def _start(
    policy: Policy, items: list[QAItem], config: RolloutConfig, docs: list[str | None]
) -> list[_Rollout]:
    """Tokenize each prompt once and open a rollout per item (duplicates stay distinct)."""
    rollouts = []
    for index, (item, documents) in enumerate(zip(items, docs, strict=True)):
        text = build_prompt(
            item.question, method=config.method, tokenizer=policy.tokenizer, documents=documents
        )
        ids = policy.tokenizer.encode(text, add_special_tokens=False)
        trajectory = Trajectory(item=item, prompt_ids=ids, prompt_text=text)
        rollouts.append(_Rollout(index, trajectory, budget=config.max_completion_tokens))
    return rollouts


def _rag_documents(loop: _Loop, items: list[QAItem]) -> tuple[list[str | None], list[SearchCall]]:
    """RAG: one search per question (the question as query), all at once, before any generation."""
    requests = [loop.request(item, index, item.question, 0) for index, item in enumerate(items)]
    results = loop.search(requests)
    calls = [
        SearchCall(q.query, r.mode, r.documents, r.failed, r.error)
        for q, r in zip(requests, results, strict=True)
    ]
    return [r.formatted for r in results], calls


def run_rollouts(
    policy: Policy,
    backend: SearchBackend | None,
    items: list[QAItem],
    config: RolloutConfig,
    *,
    on_turn: TurnCallback | None = None,
    timings: dict[str, float] | None = None,
) -> list[Trajectory]:
    """Roll out every item with ``config.method``; trajectories come back in the order of ``items``.

    ``timings``, when given, gains the seconds spent generating (``generate_s``) and searching
    (``search_s``), where a rollout's time goes.

    agent: up to ``max_turns`` turns that may search, then one answer-only turn without search;
    rag: one search with the question, documents in the prompt, one answer turn; direct: one answer turn.
    """
    if config.method != "direct" and backend is None:
        raise ConfigError(
            f"method {config.method!r} needs a search backend; use method 'direct'", param="search"
        )
    if not items:
        return []
    policy.forget()  # nothing from an earlier batch (older weights) may be reused
    try:
        return _roll_out(policy, backend, items, config, on_turn, timings)
    finally:
        policy.forget()


def _roll_out(
    policy: Policy,
    backend: SearchBackend | None,
    items: list[QAItem],
    config: RolloutConfig,
    on_turn: TurnCallback | None,
    timings: dict[str, float] | None,
) -> list[Trajectory]:
    loop = _Loop(policy, backend, config, timings)
    docs: list[str | None] = [None] * len(items)
    rag_calls: list[SearchCall] = []
    if config.method == "rag":
        docs, rag_calls = _rag_documents(loop, items)
    rollouts = _start(policy, items, config, docs)
    for rollout, call in zip(rollouts, rag_calls, strict=False):  # empty unless rag
        rollout.trajectory.searches.append(call)
    search_turns = config.max_turns if config.method == "agent" else 0
    for turn in range(1, search_turns + 2):
        active = [r for r in rollouts if not r.done]
        if not active:
            break
        final = turn > search_turns
        if final and config.method == "agent":
            for rollout in active:  # tell the policy why it may no longer search
                loop.insert(rollout, answer_only_instruction())
            active = [r for r in active if not r.done]
            if not active:
                break
        loop.generate(active, turn, final=final)
        loop.run_searches(active, turn)
        if final:
            for rollout in active:
                rollout.done = True
        if on_turn is not None:
            on_turn(turn, [r.trajectory for r in rollouts])
    for rollout in rollouts:
        loop.finish(rollout)
    log.debug("rolled out %d trajectories (%s)", len(rollouts), config.method)
    return [r.trajectory for r in rollouts]
