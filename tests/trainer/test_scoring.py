"""The packed, scored-only log-probabilities equal TRL's fused LM head on the real bundled model.

TRL's head (``add_fused_lm_head``, what GRPOTrainer calls) is the reference: same batch, same
temperature; ours must agree on every scored position (float rounding only), give zeros elsewhere, let
gradients through, and never let one row see another (packing).
"""

from __future__ import annotations

import copy

import pytest
import torch

from zerosearch.trainer.scoring import packed_positions, scored_logps, supports_scored_logps

PROMPT, COMPLETION = 12, 10


@pytest.fixture(scope="module")
def model(bundled_model_path: str):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(bundled_model_path, dtype=torch.float32)


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three rows as TRL builds them: left-padded prompts, right-padded completions, a tool mask."""
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(100, 20_000, (3, PROMPT + COMPLETION), generator=generator)
    attention = torch.ones_like(ids)
    attention[1, :5] = 0  # a shorter prompt
    attention[2, :2] = 0
    attention[2, PROMPT + 6 :] = 0  # a shorter completion
    ids = ids.masked_fill(attention == 0, 2)
    scored = attention[:, PROMPT:].clone()
    scored[0, 3:6] = 0  # inserted documents: not scored
    return ids, attention, scored


def _trl_reference(model, ids, attention, temperature):  # type: ignore[no-untyped-def]
    from trl.trainer.utils import add_fused_lm_head

    reference = copy.deepcopy(model)
    add_fused_lm_head(reference, temperature=temperature, outputs=("log_probs", "entropy"))
    labels = ids.masked_fill(attention == 0, -100)
    labels[:, :-COMPLETION] = -100
    out = reference(input_ids=ids, attention_mask=attention, labels=labels, fused_lm_head=True)
    return out.log_probs[:, -COMPLETION:], out.entropy[:, -COMPLETION:]


def test_packed_positions_restart_per_row() -> None:
    attention = torch.tensor([[0, 1, 1], [1, 1, 0]])
    index, positions = packed_positions(attention)
    assert index.tolist() == [[-1, 0, 1], [2, 3, -1]]
    assert positions.tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize("group_cost", [0, 10_000])  # a group per row; all rows in one group
def test_scored_logps_equal_trl_fused_head(model, group_cost: int) -> None:  # type: ignore[no-untyped-def]
    assert supports_scored_logps(model)
    ids, attention, scored = _batch()
    temperature = 0.7
    with torch.no_grad():
        expected_logps, expected_entropy = _trl_reference(model, ids, attention, temperature)
        logps, entropy = scored_logps(
            model, ids, attention, scored, temperature=temperature, group_cost=group_cost
        )
    chosen = scored.bool()
    assert logps.shape == entropy.shape == scored.shape
    torch.testing.assert_close(logps[chosen], expected_logps[chosen], atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(entropy[chosen], expected_entropy[chosen], atol=2e-4, rtol=1e-4)
    assert (logps[~chosen] == 0).all() and (entropy[~chosen] == 0).all()
    assert (logps[chosen] < 0).all()


def test_rows_do_not_see_each_other_and_gradients_flow(model) -> None:  # type: ignore[no-untyped-def]
    ids, attention, scored = _batch()
    alone, _ = scored_logps(model, ids[1:2], attention[1:2], scored[1:2], temperature=1.0)
    together, entropy = scored_logps(model, ids, attention, scored, temperature=1.0)
    torch.testing.assert_close(together[1:2], alone, atol=2e-4, rtol=1e-4)
    model.zero_grad()
    (together.sum() + entropy.sum()).backward()
    grad = model.get_output_embeddings().weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    model.zero_grad()


def test_length_groups_split_where_padding_costs_more_than_a_call() -> None:
    from zerosearch.trainer.scoring import length_groups

    assert length_groups([500, 60, 480, 50], group_cost=128) == [[3, 1], [2, 0]]
    assert length_groups([100, 90, 95], group_cost=128) == [[1, 2, 0]]  # one call: padding is cheap
    assert sorted(i for g in length_groups([7, 3, 9, 1, 4], group_cost=0) for i in g) == [0, 1, 2, 3, 4]
