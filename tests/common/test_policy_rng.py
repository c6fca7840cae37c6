"""The transformers policy never replays one random stream: unseeded calls are fresh, seeded ones repeat.

Forking and restoring the CPU RNG around every ``generate`` made each unseeded call start from the same
state, so consecutive rollouts of one prompt sampled the same tokens (issue 11, item 3).
"""

from __future__ import annotations

from typing import Any


def _sample(policy: Any, seed: int | None) -> list[int]:
    prompt = policy.tokenizer("Once upon a time, in a small village,", add_special_tokens=False)["input_ids"]
    [out] = policy.generate([prompt], max_new_tokens=24, stop=[], temperature=1.0, top_p=1.0, seed=seed)
    return out.ids


def test_consecutive_unseeded_calls_differ(policy: Any) -> None:
    assert _sample(policy, None) != _sample(policy, None)


def test_seeded_calls_repeat_and_leave_the_global_stream_alone(policy: Any) -> None:
    import torch

    before = torch.random.get_rng_state()
    assert _sample(policy, 7) == _sample(policy, 7)
    assert torch.equal(torch.random.get_rng_state(), before)
