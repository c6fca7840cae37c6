"""GRPO's learnable pool: before GRPO, keep the training questions the starting policy answers sometimes
but not always.

A group whose rollouts all score the same has zero advantage, so it gives no gradient: with a 135M policy
most groups score 0 everywhere (docs/benchmarks.md, "Learning signal"). DAPO (Yu et al., 2025) drops such
groups online and samples again; on a small machine it is cheaper to probe once. The starting policy (after
the cold start) samples ``samples`` rollouts of each of the first ``candidates`` training questions, and
GRPO trains on the first ``size`` questions whose mean reward (pass rate) is strictly between
``min_pass_rate`` and ``max_pass_rate`` (0 and 1 by default; a lower maximum leaves the policy room to
learn); when fewer than ``prompts_per_step`` are, the other questions of the highest pass rate below the
maximum fill the pool (a warning says so). The probe is seeded by the run's seed and searches BM25 by
default, so arms of one seed that train against different engines get the same pool. Every pass rate goes
to ``<run>/pool.json``; a resumed run reads its pool back, and so does a new run whose folder holds a
``pool.json`` before it starts (the experiment gives later arms of a seed the first arm's).

    items = learnable_pool(config, run_dir, lambda: TransformersPolicy.from_pretrained(path), items, bm25, settings)
"""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Callable

from zerosearch.common.agent import run_rollouts
from zerosearch.common.errors import ConfigError, DatasetError
from zerosearch.common.policy import Policy
from zerosearch.common.search.base import SearchBackend
from zerosearch.common.trajectory import QAItem, RolloutConfig
from zerosearch.trainer.config import TrainConfig
from zerosearch.trainer.distributed import current_ranks
from zerosearch.trainer.reward import answer_reward
from zerosearch.trainer.run_dir import RunDir

__all__ = ["fill_pool", "learnable_pool", "pass_rates", "pick_learnable"]

log = logging.getLogger(__name__)

_CHUNK = 32  # rollouts per batched call: bounds the KV cache of one generate


def pass_rates(
    policy: Policy,
    backend: SearchBackend,
    items: list[QAItem],
    settings: RolloutConfig,
    samples: int,
    reward: str,
) -> list[float]:
    """Mean reward of ``samples`` sampled rollouts of each item, in item order."""
    repeated = [item for item in items for _ in range(samples)]
    rewards: list[float] = []
    for start in range(0, len(repeated), _CHUNK):
        chunk = repeated[start : start + _CHUNK]
        seeded = settings.model_copy(
            update={"seed": None if settings.seed is None else settings.seed + start}
        )
        for trajectory in run_rollouts(policy, backend, chunk, seeded):
            rewards.append(answer_reward(trajectory.answer, trajectory.item.golden_answers, reward))
    return [statistics.fmean(rewards[i * samples : (i + 1) * samples]) for i in range(len(items))]


def pick_learnable(
    items: list[QAItem], rates: list[float], size: int, low: float = 0.0, high: float = 1.0
) -> list[QAItem]:
    """The first ``size`` items whose pass rate is strictly between ``low`` and ``high`` (0 and 1: a group
    of them can differ)."""
    return [item for item, rate in zip(items, rates, strict=True) if low < rate < high][:size]


def fill_pool(
    chosen: list[QAItem], items: list[QAItem], rates: list[float], needed: int, high: float = 1.0
) -> list[QAItem]:
    """``chosen`` topped up to ``needed`` with the other items of pass rate below ``high`` (by default those
    the policy did not always answer), highest pass rate first (file order among ties): a step needs
    ``prompts_per_step`` questions, and a question the probe saw fail 4 times may still be answered
    sometimes."""
    others = sorted(
        (pair for pair in zip(items, rates, strict=True) if pair[0] not in chosen and pair[1] < high),
        key=lambda pair: -pair[1],
    )
    return chosen + [item for item, _ in others[: max(0, needed - len(chosen))]]


def learnable_pool(
    config: TrainConfig,
    run_dir: RunDir,
    starting_policy: Callable[[], Policy],
    items: list[QAItem],
    probe_backend: SearchBackend,
    settings: RolloutConfig,
) -> list[QAItem]:
    """GRPO's questions: the pool of ``config.pool`` chosen by probing ``starting_policy()`` (the model GRPO
    starts from) against ``probe_backend`` (``pool.search``: bm25 or the run's own), or the pool a resumed
    run chose before."""
    if current_ranks().distributed:  # each rank would probe and write on its own
        raise ConfigError(
            "pool.enabled runs in one process: choose the pool in a single-process run (its pool.json) "
            "and train on those questions as datasets",
            param="pool.enabled",
        )
    path = run_dir.pool_file
    by_question = {item.question: item for item in items}
    if path.is_file():
        chosen = [by_question[q] for q in json.loads(path.read_text())["pool"] if q in by_question]
        log.info("pool: %d questions chosen before (%s)", len(chosen), path)
        return chosen
    pool = config.pool
    candidates = items[: pool.candidates]
    policy = starting_policy()
    probe = settings.model_copy(update={"noise": 0.0, "seed": config.seed})
    rates = pass_rates(policy, probe_backend, candidates, probe, pool.samples, config.reward)
    low, high = pool.min_pass_rate, pool.max_pass_rate
    learnable = pick_learnable(candidates, rates, pool.size, low, high)
    chosen = fill_pool(learnable, candidates, rates, config.prompts_per_step, high)
    if len(chosen) > len(learnable):
        log.warning("pool: %d questions kept with %g < pass rate < %g; %d more of the highest pass rate below "
                    "%g added so that a step has prompts_per_step=%d questions (a question of pass rate 0 "
                    "gives no gradient until one rollout answers it)",
                    len(learnable), low, high, len(chosen) - len(learnable), high, config.prompts_per_step)  # fmt: skip
    report = {
        "pool": [item.question for item in chosen],
        "filled": len(chosen) - len(learnable),
        "probed": [
            {"question": item.question, "pass_rate": rate}
            for item, rate in zip(candidates, rates, strict=True)
        ],
        "settings": pool.model_dump(mode="json"),
    }
    path.write_text(json.dumps(report, indent=2))
    log.info("pool: %d of %d probed questions have %g < pass rate < %g (%d kept); %s",
             sum(low < r < high for r in rates), len(candidates), low, high, len(learnable), path)  # fmt: skip
    if len(chosen) < config.prompts_per_step:
        raise DatasetError(
            f"pool: {len(chosen)} of {len(candidates)} probed questions have a pass rate below {high:g}, fewer "
            f"than prompts_per_step={config.prompts_per_step}; raise pool.candidates, pool.samples or "
            f"pool.max_pass_rate",
            param="pool.candidates",
        )
    return chosen
