"""One real optimizer step of our GRPO trainer on a fixed batch with controlled rewards.

The batch goes through the same wiring a run uses (trajectories → ``trajectories_to_trl`` → TRL with our
env_mask; our F1 reward function on each sample's ``answer``; ``build_grpo_args``; ``trainer_class``), with a
tiny random Llama (built here, seconds on CPU) and plain SGD so that a zero gradient means zero change.

- direction: rewarded completions gain log-probability, unrewarded ones lose it (fails if the advantage
  sign or the reward/loss wiring breaks);
- masking: completions that differ ONLY in their inserted ``<information>`` tokens, with different rewards,
  leave every weight unchanged (their model tokens cancel); fails if env_mask stops masking those tokens;
- REINFORCE: a group whose completions are all rewarded moves under ``reinforce`` (raw reward, no baseline)
  and not under ``grpo`` or ``reinforce_baseline`` (zero group-relative advantage).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from zerosearch.common.trajectory import QAItem, Segment, Trajectory
from zerosearch.trainer.config import parse_train_config
from zerosearch.trainer.grpo import build_grpo_args
from zerosearch.trainer.reward import make_reward_function
from zerosearch.trainer.rollout import trajectories_to_trl
from zerosearch.trainer.run_dir import RunDir

ITEM = QAItem(id="q", question="what is the capital of france", golden_answers=["Paris"])
LR = 0.5  # plain SGD on a tiny random model: a visible move in one step


@pytest.fixture(scope="module")
def tokenizer(bundled_model_path: str):  # type: ignore[no-untyped-def]
    from zerosearch.common.models import load_tokenizer

    return load_tokenizer(bundled_model_path)


def _tiny_model(tokenizer):  # type: ignore[no-untyped-def]
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return LlamaForCausalLM(config)


def _trajectory(tokenizer, parts: list[tuple[str, str]], answer: str | None) -> Trajectory:  # type: ignore[no-untyped-def]
    prompt = f"Question: {ITEM.question}\n"
    segments = [Segment(kind, tokenizer.encode(text, add_special_tokens=False), text) for kind, text in parts]  # type: ignore[arg-type]
    segments.append(Segment("inserted", [tokenizer.eos_token_id], tokenizer.eos_token))
    return Trajectory(
        item=ITEM, prompt_ids=tokenizer.encode(prompt, add_special_tokens=False), prompt_text=prompt,
        segments=segments, answer=answer,
    )  # fmt: skip


def _logprob(model, trajectory: Trajectory) -> float:  # type: ignore[no-untyped-def]
    """Sum of log p(model tokens) of one trajectory (inserted tokens are context only)."""
    ids = torch.tensor([trajectory.prompt_ids + trajectory.completion_ids])
    with torch.no_grad():
        logits = model(ids).logits[0, :-1].float()
    targets = ids[0, 1:]
    logp = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None])[:, 0]
    start = len(trajectory.prompt_ids) - 1
    mask = torch.tensor(trajectory.env_mask, dtype=torch.bool)
    return float(logp[start:][mask].sum())


def _one_step(tmp_path: Path, tokenizer, batch: list[Trajectory], algorithm: str):  # type: ignore[no-untyped-def]
    """Train the tiny model one SGD step on ``batch`` (one group); return (model, weights before)."""
    from datasets import Dataset

    from zerosearch.trainer.trl_trainer import trainer_class

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    config = parse_train_config(
        {
            "model": "tiny", "simulator_url": "http://127.0.0.1:9", "datasets": ["nq"],
            "algorithm": algorithm, "num_generations": len(batch), "prompts_per_step": 1, "steps": 1,
            "learning_rate": LR, "beta": 0.0, "max_completion_length": 256,
            "output_dir": str(tmp_path / algorithm), "eval": {"enabled": False},
        }
    )  # fmt: skip
    model = _tiny_model(tokenizer)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)

    def rollout(prompts: list, trainer) -> dict:  # type: ignore[no-untyped-def,type-arg]
        assert prompts == [ITEM.question] * len(batch)
        return trajectories_to_trl(batch)

    trainer = trainer_class(config.algorithm)(
        model=model, reward_funcs=[make_reward_function("f1")], args=build_grpo_args(config, RunDir(tmp_path)),
        train_dataset=Dataset.from_list([{"prompt": ITEM.question}]), processing_class=tokenizer,
        rollout_func=rollout, optimizers=(optimizer, None),
    )  # fmt: skip
    trainer.train()
    return model, before


def _moved(model, before: dict) -> float:  # type: ignore[no-untyped-def,type-arg]
    return max(float((p.detach() - before[name]).abs().max()) for name, p in model.named_parameters())


SEARCH = ("model", "<search> capital of france </search>")
INFO = (
    "inserted",
    "\n\n<information>Doc 1: Paris is the capital and largest city of France.</information>\n\n",
)


def test_a_step_raises_rewarded_completions_and_lowers_the_others(tmp_path: Path, tokenizer) -> None:  # type: ignore[no-untyped-def]
    good = _trajectory(tokenizer, [SEARCH, INFO, ("model", "<answer> Paris </answer>")], "Paris")
    bad = _trajectory(tokenizer, [SEARCH, INFO, ("model", "<answer> Lyon </answer>")], "Lyon")
    batch = [good, bad, good, bad]
    reference = _tiny_model(tokenizer)  # same seed: the weights before the step
    start = {"good": _logprob(reference, good), "bad": _logprob(reference, bad)}
    model, _ = _one_step(tmp_path, tokenizer, batch, "grpo")
    assert _logprob(model, good) > start["good"] + 1e-3
    assert _logprob(model, bad) < start["bad"] - 1e-3


def test_information_tokens_never_enter_the_loss(tmp_path: Path, tokenizer) -> None:  # type: ignore[no-untyped-def]
    # Same model tokens everywhere; only the inserted documents (and the rewards) differ. With the documents
    # masked, the group's advantages sum to 0 over identical log-probs: the gradient is exactly zero.
    docs = ["Paris is the capital of France.", "Lyon is a large city in France.", "Marseille is a port."]
    batch = [
        _trajectory(
            tokenizer, [SEARCH, ("inserted", f"\n\n<information>Doc 1: {doc}</information>\n\n")], answer
        )
        for doc, answer in zip(docs * 2, ["Paris", "Lyon", "Nice", "Paris", "Rome", "Lille"], strict=True)
    ]
    model, before = _one_step(tmp_path, tokenizer, batch, "grpo")
    assert _moved(model, before) < 1e-6


@pytest.mark.parametrize(
    ("algorithm", "moves"), [("reinforce", True), ("grpo", False), ("reinforce_baseline", False)]
)
def test_reinforce_uses_the_raw_reward_without_a_baseline(
    tmp_path: Path, tokenizer, algorithm: str, moves: bool
) -> None:  # type: ignore[no-untyped-def]
    good = _trajectory(tokenizer, [SEARCH, INFO, ("model", "<answer> Paris </answer>")], "Paris")
    start = _logprob(_tiny_model(tokenizer), good)
    model, before = _one_step(tmp_path, tokenizer, [good] * 4, algorithm)
    if moves:  # advantage = reward = 1 for every sample: every rewarded completion gains probability
        assert _logprob(model, good) > start + 1e-3
    else:  # the group mean (1) is subtracted: zero advantage, no change
        assert _moved(model, before) < 1e-6
