"""The packed, scored-only log-probabilities equal TRL's fused LM head on the real bundled model.

TRL's head (``add_fused_lm_head``, what GRPOTrainer calls) is the reference: same batch, same
temperature; ours must agree on every scored position (float rounding only), give zeros elsewhere, let
gradients through, and never let one row see another (packing).
"""

from __future__ import annotations

import copy

import pytest
import torch

from zerosearch.trainer.scoring import (
    label_positions_only,
    packed_positions,
    scored_logps,
    supports_scored_logps,
)

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


def _group_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Five rows in two GRPO groups (rows 0, 2, 4 share one prompt, rows 1, 3 a shorter one), completions
    of 10, 1, 7, 10 and 4 tokens, documents not scored in row 2."""
    generator = torch.Generator().manual_seed(2)
    prompts = torch.randint(100, 20_000, (2, PROMPT), generator=generator)
    ids = torch.randint(100, 20_000, (5, PROMPT + COMPLETION), generator=generator)
    attention = torch.ones_like(ids)
    for row in range(5):
        ids[row, :PROMPT] = prompts[row % 2]
    attention[1::2, :4] = 0  # the second prompt is shorter: left padding
    for row, length in enumerate([10, 1, 7, 10, 4]):
        attention[row, PROMPT + length :] = 0
    ids = ids.masked_fill(attention == 0, 2)
    scored = attention[:, PROMPT:].clone()
    scored[2, 2:5] = 0
    return ids, attention, scored


def test_prompt_groups_find_the_rows_of_each_prompt() -> None:
    from zerosearch.trainer.scoring import prompt_groups

    ids, attention, _ = _group_batch()
    assert prompt_groups(ids, attention, COMPLETION) == [[0, 2, 4], [1, 3]]
    assert prompt_groups(ids[:2], attention[:2], COMPLETION) is None  # nothing shared: the packed path
    holes = attention.clone()
    holes[0, PROMPT + 2] = 0  # a completion that is not right-padded: not TRL's layout
    assert prompt_groups(ids, holes, COMPLETION) is None


def test_shared_prompts_give_the_same_logps_and_gradients(model) -> None:  # type: ignore[no-untyped-def]
    """The prompt runs once per group (its keys and values shared by the group's rows): values equal TRL's
    head, and the gradients equal those of the path that runs every row whole."""
    ids, attention, scored = _group_batch()
    with torch.no_grad():
        expected, _ = _trl_reference(model, ids, attention, 0.7)
    results, grads = [], []
    for share in (True, False):
        model.zero_grad()
        logps, entropy = scored_logps(model, ids, attention, scored, temperature=0.7, share_prompts=share)
        (logps.sum() + 0.1 * entropy.sum()).backward()
        results.append(logps.detach())
        grads.append([p.grad.clone() for p in (model.model.layers[0].self_attn.q_proj.weight,
                                               model.model.layers[-1].mlp.down_proj.weight,
                                               model.get_output_embeddings().weight)])  # fmt: skip
    model.zero_grad()
    chosen = scored.bool()
    torch.testing.assert_close(results[0][chosen], expected[chosen], atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(results[0], results[1], atol=2e-4, rtol=1e-4)
    assert (results[0][~chosen] == 0).all()
    for shared, whole in zip(*grads, strict=True):
        assert whole.norm() > 0
        assert (shared - whole).norm() / whole.norm() < 1e-4  # float rounding: summed in another order


def test_gradient_checkpointing_falls_back_to_whole_rows(model) -> None:  # type: ignore[no-untyped-def]
    """In training, gradient checkpointing drops the prompt's KV cache: the rows then run whole, with the
    same values, never a completion scored without its prompt."""
    ids, attention, scored = _group_batch()
    with torch.no_grad():
        expected, _ = _trl_reference(model, ids, attention, 1.0)
    model.gradient_checkpointing_enable()
    model.train()
    try:
        logps, _ = scored_logps(model, ids, attention, scored, temperature=1.0)
    finally:
        model.gradient_checkpointing_disable()
        model.eval()
    chosen = scored.bool()
    torch.testing.assert_close(logps.detach()[chosen], expected[chosen], atol=2e-4, rtol=1e-4)


def test_the_sft_head_projects_labelled_positions_only_and_equals_trl(model) -> None:  # type: ignore[no-untyped-def]
    """The cold start's SFT: the loss, log-probabilities, entropy and top-1 metric of the labelled
    positions equal TRL's fused head, gradients included, and the head saw only those positions."""
    from trl.trainer.utils import add_fused_lm_head

    generator = torch.Generator().manual_seed(2)
    ids = torch.randint(100, 20_000, (3, 30), generator=generator)
    attention = torch.ones_like(ids)
    attention[2, 24:] = 0  # right padding, as SFT batches
    labels = ids.masked_fill(attention == 0, -100)
    labels[:, :12] = -100  # the prompt
    labels[0, 16:22] = -100  # inserted documents
    outputs, grads, projected = {}, {}, {}
    for name in ("trl", "ours"):
        copy_ = copy.deepcopy(model)
        add_fused_lm_head(copy_, outputs=("log_probs", "entropy", "is_top1"))
        if name == "ours":
            assert label_positions_only(copy_)
        seen: list[int] = []
        copy_.get_output_embeddings().register_forward_pre_hook(
            lambda m, a, seen=seen: seen.append(a[0].shape[0])
        )
        out = copy_(input_ids=ids, attention_mask=attention, labels=labels, fused_lm_head=True)
        out.loss.backward()
        outputs[name], projected[name] = out, sum(seen)
        grads[name] = copy_.model.layers[0].self_attn.q_proj.weight.grad.clone()
    trained = int((labels[:, 1:] != -100).sum())
    assert projected["ours"] == trained < ids.size(0) * (ids.size(1) - 1)  # TRL's CPU head: every position
    trl, ours = outputs["trl"], outputs["ours"]
    assert torch.equal(trl.label_mask, ours.label_mask)
    assert torch.allclose(trl.loss, ours.loss, atol=1e-5)
    assert torch.allclose(trl.log_probs, ours.log_probs, atol=2e-4)
    assert torch.allclose(trl.entropy, ours.entropy, atol=2e-4)
    assert torch.equal(trl.is_top1.bool(), ours.is_top1.bool())
    assert torch.allclose(grads["trl"], grads["ours"], rtol=1e-3, atol=1e-6)
