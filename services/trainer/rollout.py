"""The rollout function TRL's GRPOTrainer calls: the shared agent loop against the simulator.

For each prompt (TRL hands every question ``num_generations`` times in a row) the agent loop generates,
searches the simulator with ``noise = curriculum(step)`` and the trajectory's **own** question and first
gold answer, and inserts the documents. Every search is a fresh sample, as in the paper, unless the settings
carry a ``documents_seed`` (``shared_documents``): then the rollouts that send the same query for the same
question get the same documents, within a step (``documents_each_step``: the step goes into the seed) or
for the whole run per useful/noisy mode, each search call drawing its mode on its own and anew each step
(``noise_seed``; see ``zerosearch.common.agent``). What goes back to TRL, one entry per sample and in
sample order:

- ``prompt_ids``, ``completion_ids`` and ``logprobs`` (the sampled logprobs when the policy has them);
- ``env_mask``: 1 for model tokens, 0 for inserted ``<information>`` blocks and observations, so inserted
  text never enters the loss (ZeroSearch §3.2, "loss masking");
- ``answer`` and ``golden_answers``: the reward function's inputs, so sample i is always scored with
  sample i's own golds (the reference code, Alibaba-NLP/ZeroSearch, mixed these up across a batch).

    rollout = SearchRollout(items, backend, rollout_settings, curriculum)
    trainer = GRPOTrainer(..., rollout_func=rollout)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zerosearch.common.agent import run_rollouts
from zerosearch.common.errors import ConfigError
from zerosearch.common.policy import Policy
from zerosearch.common.search.base import SearchBackend
from zerosearch.common.trajectory import QAItem, RolloutConfig, Trajectory
from zerosearch.trainer.curriculum import Curriculum
from zerosearch.trainer.reward import RewardKind, answer_reward

__all__ = ["RolloutStats", "SearchRollout", "rollout_stats", "trajectories_to_trl"]

log = logging.getLogger(__name__)

PolicyFactory = Callable[[Any], Policy]
"""Builds the generation policy from the trainer (its live model) at each rollout."""


@dataclass
class RolloutStats:
    """What one rollout batch did: its step and noise, searches, failures, tokens and time."""

    step: int = 0
    noise: float = 0.0
    rollouts: int = 0
    searches: int = 0
    failed_searches: int = 0
    answered: int = 0
    invalid_actions: int = 0
    truncated: int = 0
    model_tokens: int = 0
    inserted_tokens: int = 0
    seconds: float = 0.0
    generate_seconds: float = 0.0
    search_seconds: float = 0.0
    noisy_searches: int = 0
    useful_rollouts: int = 0  # searched, no noisy documents
    useful_reward_total: float = 0.0
    noisy_rollouts: int = 0  # got noisy documents in some search
    noisy_reward_total: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def useful_reward(self) -> float | None:
        """Mean reward of the rollouts that searched and got no noisy documents (None: there were none)."""
        return self.useful_reward_total / self.useful_rollouts if self.useful_rollouts else None

    @property
    def noisy_reward(self) -> float | None:
        """Mean reward of the rollouts that got noisy documents (None: there were none)."""
        return self.noisy_reward_total / self.noisy_rollouts if self.noisy_rollouts else None

    @property
    def searches_per_rollout(self) -> float:
        """Mean search calls per trajectory."""
        return self.searches / self.rollouts if self.rollouts else 0.0

    @property
    def tokens_per_s(self) -> float:
        """Model-generated tokens per second of rollout time."""
        return self.model_tokens / self.seconds if self.seconds > 0 else 0.0

    def as_metrics(self) -> dict[str, float]:
        """Flat scalars for metrics.jsonl and the job meta."""
        return {
            "noise_p": self.noise,
            "searches_per_rollout": self.searches_per_rollout,
            "failed_searches": float(self.failed_searches),
            "noisy_searches": float(self.noisy_searches),
            "answer_rate": self.answered / self.rollouts if self.rollouts else 0.0,
            "invalid_actions": float(self.invalid_actions),
            "truncated": float(self.truncated),
            "model_tokens": float(self.model_tokens),
            "inserted_tokens": float(self.inserted_tokens),
            "rollout_seconds": self.seconds,
            "generate_seconds": self.generate_seconds,
            "search_seconds": self.search_seconds,
            "rollout_tokens_per_s": self.tokens_per_s,
        } | {
            name: value
            for name, value in (("reward_useful", self.useful_reward), ("reward_noisy", self.noisy_reward))
            if value is not None  # a step with no such rollout has no value (not 0.0)
        }


def rollout_stats(
    trajectories: list[Trajectory],
    *,
    step: int,
    noise: float,
    seconds: float,
    timings: dict[str, float] | None = None,
    reward: RewardKind | str = RewardKind.F1,
) -> RolloutStats:
    """Count searches, failures, answers and tokens over one batch of trajectories; ``timings`` is what
    ``run_rollouts`` filled in (seconds generating and searching).

    The reward split by what the searches returned: ``useful_reward`` over the rollouts that searched and got
    no noisy documents, ``noisy_reward`` over those that got some. Under a curriculum the mean reward falls as
    p rises even when the policy improves; the useful-only reward shows the policy's own progress."""
    timings = timings or {}
    useful: list[float] = []
    noisy: list[float] = []
    for t in trajectories:
        if t.searches:
            score = answer_reward(t.answer, t.item.golden_answers, reward)
            (noisy if any(s.mode == "noisy" for s in t.searches) else useful).append(score)
    return RolloutStats(
        step=step,
        noise=noise,
        rollouts=len(trajectories),
        searches=sum(len(t.searches) for t in trajectories),
        failed_searches=sum(t.failed_searches for t in trajectories),
        noisy_searches=sum(1 for t in trajectories for s in t.searches if s.mode == "noisy"),
        answered=sum(1 for t in trajectories if t.answer is not None),
        invalid_actions=sum(t.invalid_actions for t in trajectories),
        truncated=sum(1 for t in trajectories if t.truncated),
        model_tokens=sum(len(t.model_ids) for t in trajectories),
        inserted_tokens=sum(len(t.inserted_ids) for t in trajectories),
        seconds=seconds,
        generate_seconds=timings.get("generate_s", 0.0),
        search_seconds=timings.get("search_s", 0.0),
        useful_rollouts=len(useful),
        useful_reward_total=sum(useful),
        noisy_rollouts=len(noisy),
        noisy_reward_total=sum(noisy),
    )


def _logprobs(trajectory: Trajectory) -> list[float] | None:
    # TRL wants one logprob per completion token; inserted tokens were never sampled, so they get 0.0
    # (they are masked out of the loss by env_mask anyway). Without sampled logprobs: None for all.
    values: list[float] = []
    for segment in trajectory.segments:
        if segment.kind == "inserted":
            values.extend([0.0] * len(segment.ids))
        elif segment.logprobs is None or len(segment.logprobs) != len(segment.ids):
            return None
        else:
            values.extend(segment.logprobs)
    return values


def trajectories_to_trl(trajectories: list[Trajectory]) -> dict[str, Any]:
    """TRL's rollout output for a batch of trajectories, one entry per sample in order."""
    logprobs = [_logprobs(t) for t in trajectories]
    return {
        "prompt_ids": [list(t.prompt_ids) for t in trajectories],
        "completion_ids": [t.completion_ids for t in trajectories],
        "logprobs": logprobs if all(lp is not None for lp in logprobs) else None,
        "env_mask": [t.env_mask for t in trajectories],
        "answer": [t.answer for t in trajectories],
        "golden_answers": [list(t.item.golden_answers) for t in trajectories],
        "question_id": [t.item.id for t in trajectories],
        "num_searches": [len(t.searches) for t in trajectories],
    }


class SearchRollout:
    """TRL ``rollout_func``: prompts (question texts) → agent-loop trajectories at the curriculum's noise."""

    def __init__(
        self,
        items: list[QAItem],
        backend: SearchBackend,
        settings: RolloutConfig,
        curriculum: Curriculum,
        policy_factory: PolicyFactory,
        *,
        on_stats: Callable[[RolloutStats], None] | None = None,
        documents_each_step: bool = True,
        reward: RewardKind | str = RewardKind.F1,
    ) -> None:
        # TRL passes prompts only, so each prompt (the question text) must identify one item.
        self.items = {item.question: item for item in items}
        if len(self.items) != len(items):
            raise ConfigError(
                "training questions must be unique (dedupe the dataset first)", param="datasets"
            )
        self.backend = backend
        self.settings = settings
        self.curriculum = curriculum
        self.policy_factory = policy_factory
        self.on_stats = on_stats
        self.documents_each_step = documents_each_step
        self.reward = reward  # for the stats' reward split by mode (the trainer's reward function scores)
        self.last_stats: RolloutStats | None = None
        # TRL sets __name__-based profiling labels on callables; keep a readable one.
        self.__name__ = "search_rollout"

    def _items_for(self, prompts: list[Any]) -> list[QAItem]:
        items = []
        for prompt in prompts:
            key = prompt if isinstance(prompt, str) else str(prompt)
            if key not in self.items:
                raise KeyError(f"rollout got a prompt that is not a training question: {key[:80]!r}")
            items.append(self.items[key])
        return items

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        """Run one rollout batch; the curriculum step is TRL's 0-based global_step + 1."""
        step = int(trainer.state.global_step) + 1
        noise = self.curriculum(step)
        items = self._items_for(prompts)
        update: dict[str, Any] = {"noise": noise, "send_question": True, "send_answer": True}
        if self.settings.documents_seed is not None:
            # "step": new documents each step; "run": the documents stay, the useful/noisy draw is new.
            step_seed = (self.settings.documents_seed + 1_000_003 * step) % 2**31
            update["documents_seed" if self.documents_each_step else "noise_seed"] = step_seed
        settings = self.settings.model_copy(update=update)
        policy = self.policy_factory(trainer)
        model = getattr(trainer, "model", None)
        was_training = bool(getattr(model, "training", False))
        if was_training:  # no dropout while sampling; gradient checkpointing also turns the KV cache off
            model.eval()
        start = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            trajectories = run_rollouts(policy, self.backend, items, settings, timings=timings)
        finally:
            if was_training:
                model.train()
        seconds = time.perf_counter() - start
        if len(trajectories) != len(items):
            raise RuntimeError(
                f"agent loop returned {len(trajectories)} trajectories for {len(items)} prompts"
            )
        stats = rollout_stats(
            trajectories, step=step, noise=noise, seconds=seconds, timings=timings, reward=self.reward
        )
        self.last_stats = stats
        log.info(
            "step %d: noise p=%.4f, %d rollouts, %.2f searches each (%d failed), %.1f tokens/s; "
            "rollout %.1f s (generate %.1f s, search %.1f s)",
            step, noise, stats.rollouts, stats.searches_per_rollout, stats.failed_searches, stats.tokens_per_s,
            seconds, stats.generate_seconds, stats.search_seconds,
        )  # fmt: skip
        _log_to_trainer(trainer, stats)
        if self.on_stats is not None:
            self.on_stats(stats)
        return trajectories_to_trl(trajectories)


def _log_to_trainer(trainer: Any, stats: RolloutStats) -> None:
    # GRPOTrainer averages these per logging step next to its own metrics (what reward functions reach
    # through their log_metric kwarg); a stand-in trainer in unit tests may not have it.
    log_metric = getattr(trainer, "_log_metric", None)
    if log_metric is None:
        return
    for name, value in stats.as_metrics().items():
        log_metric(f"rollout/{name}", value)
