"""What the agent loop takes and returns: questions, rollout settings, trajectories.

A trajectory's completion is a sequence of segments: text the model generated (trained on) and text the
loop inserted (``<information>`` blocks and observations, masked out of the loss). ``completion_ids`` and
``env_mask`` are the concatenation the trainer hands to TRL (env_mask 1 = model token, 0 = inserted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from zerosearch.common.defaults import DEFAULT_TOP_K, MAX_TOP_K, MAX_TURNS
from zerosearch.common.documents import Document

__all__ = ["QAItem", "RolloutConfig", "RolloutLimits", "SearchCall", "Segment", "Trajectory"]


class QAItem(BaseModel):
    """One benchmark or training question."""

    id: str = Field(description="Stable id of the question within its dataset.")
    question: str = Field(min_length=1, description="The question text.")
    golden_answers: list[str] = Field(default_factory=list, description="Accepted answers.")
    dataset: str = Field(default="", description="Name of the dataset it came from.")


class RolloutLimits(BaseModel):
    """The agent loop's limits: ONE model that training, evaluation and collection configs share (the
    ``rollout:`` block), so an evaluation of a checkpoint runs under the limits it was trained with."""

    model_config = ConfigDict(extra="forbid")

    max_turns: int = Field(
        default=MAX_TURNS,
        ge=1,
        le=20,
        description="Turns that may search before the forced answer-only turn.",
    )
    max_new_tokens: int = Field(default=256, ge=1, le=32768, description="New tokens per generation turn.")
    max_completion_tokens: int = Field(
        default=2048,
        ge=1,
        le=131072,
        description="Budget for all completion tokens (model + inserted documents + the final EOS).",
    )
    top_k: int = Field(default=DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description="Documents per search call.")

    @classmethod
    def fold(cls, data: Any, aliases: dict[str, str] | None = None) -> Any:
        """Move flat limit keys of a config mapping (``top_k: 3``, or an alias such as the trainer's
        ``max_completion_length``) into its ``rollout`` block; a limit given both ways is an error."""
        if not isinstance(data, dict):
            return data
        names = {name: name for name in cls.model_fields} | (aliases or {})
        flat = {names[key]: data[key] for key in list(data) if key in names}
        if not flat:
            return data
        data = {k: v for k, v in data.items() if k not in names}
        block = dict(data.get("rollout") or {})
        twice = sorted(key for key in flat if key in block and block[key] != flat[key])
        if twice:
            raise ValueError(f"rollout.{twice[0]} is given twice (flat and in rollout:); give it once")
        data["rollout"] = {**flat, **block}
        return data


class RolloutConfig(RolloutLimits):
    """How the agent loop runs a batch of questions: the shared limits plus sampling and search settings."""

    model_config = ConfigDict(extra="ignore")

    method: Literal["agent", "rag", "direct"] = Field(
        default="agent",
        description="agent: multi-turn search; rag: one search, then answer; direct: none.",
    )
    temperature: float = Field(default=1.0, ge=0.0, description="Policy sampling temperature; 0 = greedy.")
    top_p: float = Field(default=0.95, gt=0.0, le=1.0, description="Policy nucleus sampling.")
    noise: float = Field(default=0.0, ge=0.0, le=1.0, description="Noise probability sent to the simulator.")
    send_question: bool = Field(default=False, description="Send the trajectory's question to the backend.")
    send_answer: bool = Field(
        default=False,
        description="Send the first gold answer to the backend "
        "(training only: at evaluation it would leak the answer).",
    )
    seed: int | None = Field(default=None, description="Seed for sampling and simulator draws.")
    documents_seed: int | None = Field(
        default=None,
        description="Seed searches by (this, question, query): trajectories that send the same query for the "
        "same question get the same documents. None: per trajectory (seed) or fresh.",
    )
    noise_seed: int | None = Field(
        default=None,
        description="With documents_seed: draw each search call's useful/noisy mode from (this, question, "
        "trajectory, turn) and send it, so the documents stay fixed per (query, mode) while every call draws "
        "on its own and the draw follows this seed. None: the simulator draws the mode from the search seed.",
    )


@dataclass
class SearchCall:
    """One search a trajectory made and what came back."""

    query: str
    mode: str
    documents: list[Document]
    failed: bool = False
    error: str | None = None


@dataclass
class Segment:
    """A run of completion tokens: ``model`` (generated, trained on) or ``inserted`` (masked)."""

    kind: Literal["model", "inserted"]
    ids: list[int]
    text: str
    logprobs: list[float] | None = None


@dataclass
class Trajectory:
    """One question's rollout: prompt, segments, searches, answer and counts."""

    item: QAItem
    prompt_ids: list[int]
    prompt_text: str
    segments: list[Segment] = field(default_factory=list)
    searches: list[SearchCall] = field(default_factory=list)
    answer: str | None = None
    turns: int = 0
    invalid_actions: int = 0
    truncated: bool = False

    @property
    def completion_ids(self) -> list[int]:
        """All completion tokens in order (model and inserted)."""
        return [i for s in self.segments for i in s.ids]

    @property
    def env_mask(self) -> list[int]:
        """1 for each model token, 0 for each inserted token (TRL's ``env_mask``)."""
        return [1 if s.kind == "model" else 0 for s in self.segments for _ in s.ids]

    @property
    def model_ids(self) -> list[int]:
        """Only the tokens the model generated."""
        return [i for s in self.segments if s.kind == "model" for i in s.ids]

    @property
    def inserted_ids(self) -> list[int]:
        """Only the tokens the loop inserted."""
        return [i for s in self.segments if s.kind == "inserted" for i in s.ids]

    @property
    def completion_text(self) -> str:
        """The whole completion as text."""
        return "".join(s.text for s in self.segments)

    @property
    def failed_searches(self) -> int:
        """Searches that fell back to the NO_INFORMATION observation."""
        return sum(1 for s in self.searches if s.failed)
