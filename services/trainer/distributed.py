"""Ranks of a multi-process training run (``torchrun`` / ``accelerate launch``): who does what.

Every rank loads the data, runs its share of the rollouts against the simulator and takes part in the
optimizer step (gradients are averaged by DDP, DeepSpeed or FSDP through accelerate). Rank 0 alone owns
the run folder: its lock, the config snapshot, metrics, plots, the final model's staging and the eval
jobs. A decision rank 0 takes (the lock, the checkpoint to resume from) is broadcast, errors included,
so a refused run stops every rank with the same message instead of leaving the others in a collective.

    state = init_distributed()                 # a no-op in a single process
    lock = run_on_main(run_dir.lock)           # the lock on rank 0, None elsewhere; errors on every rank
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from zerosearch.common.errors import ConfigError, ZeroSearchError

__all__ = [
    "RankTracker",
    "Ranks",
    "barrier",
    "batch_split",
    "broadcast_from_main",
    "current_ranks",
    "init_distributed",
    "is_main_process",
    "run_on_main",
    "weights_checksum",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run: its global rank, the world size and its rank on the node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that owns the run folder."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one rank."""
        return self.world_size > 1


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}", param=name) from None
    if value < minimum:
        raise ConfigError(f"{name} must be ≥ {minimum}, got {value}", param=name)
    return value


def current_ranks() -> Ranks:
    """The ranks torchrun / accelerate launch put in the environment (RANK, WORLD_SIZE, LOCAL_RANK)."""
    world = _env_int("WORLD_SIZE", 1, 1)
    rank = _env_int("RANK", 0, 0)
    if rank >= world:
        raise ConfigError(f"RANK must be in [0, {world - 1}] (WORLD_SIZE={world}), got {rank}", param="RANK")
    return Ranks(rank=rank, world_size=world, local_rank=_env_int("LOCAL_RANK", rank, 0))


def is_main_process() -> bool:
    """Whether this process is rank 0 (always true without a launcher)."""
    return current_ranks().is_main


def init_distributed() -> Any:
    """Join the process group (accelerate's PartialState: gloo on CPU, nccl on GPU); None when alone.

    The Trainer would do it on its own at the first TrainingArguments; doing it first lets rank 0 lock
    the folder and broadcast its decisions before any model loads.
    """
    if not current_ranks().distributed:
        return None
    import torch
    from accelerate import PartialState

    cpu = not torch.cuda.is_available()
    if cpu:
        # Without an accelerator, accelerate joins a group (gloo) only when told it runs on CPU; the
        # Trainer rebuilds the state from scratch, so it must read the same (else: no DDP, no averaging).
        os.environ["ACCELERATE_USE_CPU"] = "true"
    state = PartialState(cpu=cpu)
    log.info("rank %d of %d (%s, %s)", state.process_index, state.num_processes, state.backend, state.device)
    return state


def _group_ready() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if _group_ready():
        import torch.distributed as dist

        dist.barrier()


def broadcast_from_main(value: T) -> T:
    """Rank 0's ``value`` on every rank (picklable values; no-op in a single process)."""
    if not _group_ready():
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def run_on_main(fn: Callable[[], T]) -> T | None:
    """Run ``fn`` on rank 0 only; its error, if any, is raised on every rank (the result stays on 0).

    Other ranks get None. A ZeroSearchError keeps its type and message on the other ranks.
    """
    ranks = current_ranks()
    if not ranks.distributed:
        return fn()
    result: T | None = None
    failure: tuple[str, str, str | None] | None = None
    if ranks.is_main:
        try:
            result = fn()
        except ZeroSearchError as exc:
            failure = (type(exc).__name__, exc.message, getattr(exc, "param", None))
            broadcast_from_main(failure)
            raise
        except Exception as exc:
            broadcast_from_main(("RuntimeError", f"rank 0 failed: {exc}", None))
            raise
    failure = broadcast_from_main(failure)
    if failure is not None and not ranks.is_main:
        kind, message, param = failure
        if kind == "ConfigError":
            raise ConfigError(f"{message} (reported by rank 0)", param=param)
        raise RuntimeError(f"{message} (reported by rank 0)")
    return result


def batch_split(rollouts: int, micro_batch_size: int | None, world_size: int) -> tuple[int, int]:
    """Per-rank micro-batch and gradient-accumulation steps for ``rollouts`` rollouts an optimizer step.

    Each rank generates ``rollouts / world_size`` rollouts a step and back-propagates them in micro-batches
    of ``micro_batch_size`` (default: all of its share at once).
    """
    if rollouts % world_size:
        raise ConfigError(
            f"prompts_per_step × num_generations ({rollouts}) must be a multiple of the number of ranks "
            f"({world_size}): every rank takes an equal share of the rollouts",
            param="prompts_per_step",
        )
    share = rollouts // world_size
    micro = micro_batch_size or share
    if share % micro:
        raise ConfigError(
            f"micro_batch_size ({micro}) must divide each rank's rollouts a step "
            f"({rollouts} / {world_size} ranks = {share})",
            param="micro_batch_size",
        )
    return micro, share // micro


@dataclass
class RankTracker:
    """Per-rank totals of the rollouts each rank generated (rank 0 keeps everyone's after each step)."""

    world_size: int = 1
    rollouts: list[int] = field(default_factory=list)
    searches: list[int] = field(default_factory=list)
    model_tokens: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("rollouts", "searches", "model_tokens"):
            if not getattr(self, name):
                setattr(self, name, [0] * self.world_size)

    def attach(self, rollout: Any) -> None:
        """Merge the ranks' stats after every rollout batch into ``rollout.last_stats`` (a collective)."""
        if self.world_size < 2:
            return
        previous = rollout.on_stats

        def merge(stats: Any) -> None:
            rollout.last_stats = self.merge(stats)
            if previous is not None:
                previous(rollout.last_stats)

        rollout.on_stats = merge

    def merge(self, stats: Any) -> Any:
        """Gather every rank's RolloutStats: counts add up, times are the slowest rank's (wall clock)."""
        import torch.distributed as dist

        from zerosearch.trainer.rollout import RolloutStats

        everyone: list[Any] = [None] * self.world_size
        dist.all_gather_object(everyone, asdict(stats))
        for rank, item in enumerate(everyone):
            self.rollouts[rank] += item["rollouts"]
            self.searches[rank] += item["searches"]
            self.model_tokens[rank] += item["model_tokens"]
        merged = dict(everyone[0])
        for key in ("seconds", "generate_seconds", "search_seconds"):
            merged[key] = max(item[key] for item in everyone)
        for key in (
            "rollouts", "searches", "failed_searches", "answered", "invalid_actions", "truncated",
            "model_tokens", "inserted_tokens", "noisy_searches",
            "useful_rollouts", "useful_reward_total", "noisy_rollouts", "noisy_reward_total",
        ):  # fmt: skip
            merged[key] = sum(item[key] for item in everyone)
        return RolloutStats(**merged)

    def report(self, checksums: list[str | None]) -> dict[str, Any]:
        """The ``ranks.json`` record: per-rank rollouts, searches, tokens and final weights checksum."""
        return {
            "world_size": self.world_size,
            "ranks": [
                {
                    "rank": rank,
                    "rollouts": self.rollouts[rank],
                    "searches": self.searches[rank],
                    "model_tokens": self.model_tokens[rank],
                    "weights_sha256": checksums[rank] if rank < len(checksums) else None,
                }
                for rank in range(self.world_size)
            ],
        }


def weights_checksum(model: Any) -> str | None:
    """SHA-256 over every parameter (name order), or None when parameters are sharded (ZeRO-3, FSDP).

    After a data-parallel step every rank must hold the same weights; ranks that disagree mean the
    gradients were not averaged.
    """
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters(), key=lambda pair: pair[0]):
        tensor = param.detach()
        if tensor.numel() == 0 or getattr(param, "ds_numel", None) is not None:
            return None  # a DeepSpeed ZeRO-3 shard or an FSDP flat parameter: not the whole weight
        digest.update(name.encode())
        digest.update(tensor.float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def gather_checksums(model: Any) -> list[str | None]:
    """Every rank's :func:`weights_checksum` (one entry in a single process)."""
    mine = weights_checksum(model)
    if not _group_ready():
        return [mine]
    import torch.distributed as dist

    everyone: list[str | None] = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    return everyone
