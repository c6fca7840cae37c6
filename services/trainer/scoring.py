"""Log-probabilities of the scored tokens only, rows grouped by length: the CPU path of the GRPO loss.

TRL's GRPO loss needs, per completion position, the log-probability (and entropy) of the sampled token;
only the positions of ``completion_mask × tool_mask`` enter the loss (the model's own tokens, not the
inserted ``<information>`` blocks nor padding). TRL's fused LM head scores only those positions on
Triton devices; on CPU it projects **every** position of the padded batch (prompt, documents, padding)
through the 49k-word vocabulary, forward and backward: ~16 s of a ~55 s demo step (measured, cProfile).

:func:`scored_logps` does the same computation with two savings, both exact up to float rounding:

- the backbone runs over **rows of similar length together**, each group right-padded to its own longest
  row (a demo batch mixes 60-token and 560-token rows: ~30% of TRL's padded positions are padding), with
  no attention mask (the causal mask keeps real tokens off the right padding; positions start at 0 as in
  generation); one row of all rows, packed with a block-diagonal mask, measured slower (dense mask);
- the LM head runs over the **scored** positions only (a plain log-softmax over ~500 rows instead of a
  chunked one over ~4,500);
- a **prompt shared** by several rows (a GRPO group's) runs once: its keys and values, gradients
  attached, serve each row's completion (:func:`prompt_groups`); a demo batch of 8 rows and 2 prompts
  of ~150 tokens computes ~1,050 fewer positions, forward and backward.

Measured on the demo's batch shape (8 rows, 3,182 real tokens, 740 scored): forward + backward 18.8 s
against 36.7 s through TRL's head. Sharing the prompt: 8 rows in 2 groups, 3,240 real tokens, 550
scored: 10.0 s against 13.5 s without (docs/benchmarks.md).

The result has TRL's shapes: ``(batch, completion_length)`` with zeros where a position is not scored.

    logps, entropies = scored_logps(model, input_ids, attention_mask, scored, temperature=1.0)

The cold start's SFT has the same waste: TRL's SFT head projects all ~375 positions of a demonstration,
of which ~45 are trained (the prompt and the documents are not). :func:`label_positions_only` makes that
head project the labelled positions only (same loss, entropy and accuracy metrics).

    label_positions_only(sft_trainer.model)   # after SFTTrainer has added its fused head
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = [
    "GROUP_COST",
    "label_positions_only",
    "length_groups",
    "packed_positions",
    "prompt_groups",
    "scored_logps",
    "supports_scored_logps",
]

GROUP_COST = 128
"""What one more forward call costs, in padded tokens, when rows are grouped by length."""


def supports_scored_logps(model: Any) -> bool:
    """Whether :func:`scored_logps` reproduces the model's own LM head: a plain linear head (no logit
    softcapping or scaling) behind a ``base_model`` backbone, on CPU."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(base, "config", None)
    if config is None or getattr(base, "base_model", None) is None:
        return False
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    scaled = any(
        getattr(text, name, None) not in (None, 1.0)
        for name in ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier")
    )
    scaled = scaled or getattr(text, "logits_scaling", None) is not None
    head = base.get_output_embeddings()
    return not scaled and head is not None and head.weight.device.type == "cpu"


def packed_positions(attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For a padded batch: the flat index of every position among the real tokens (row-major; -1 on
    padding) and the ``position_ids`` of the real tokens, restarting at 0 for each sequence."""
    real = attention_mask.bool()
    index = real.flatten().long().cumsum(0).view_as(real) - 1
    index = index.masked_fill(~real, -1)
    positions = (real.long().cumsum(1) - 1)[real]
    return index, positions


def length_groups(lengths: list[int], group_cost: int = 0) -> list[list[int]]:
    """Rows grouped by length so that padding is small: the split of the rows sorted by length that
    minimises Σ (rows × longest) + ``group_cost`` per group (one forward call costs about that many
    tokens). Returns row indices, shortest group first."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    best = [0.0] + [float("inf")] * len(order)  # best[j]: cheapest split of the first j sorted rows
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for begin in range(end):
            cost = best[begin] + (end - begin) * lengths[order[end - 1]] + group_cost
            if cost < best[end]:
                best[end], cut[end] = cost, begin
    groups, end = [], len(order)
    while end > 0:
        groups.append(order[cut[end] : end])
        end = cut[end]
    return groups[::-1]


def _backbone_hidden(
    backbone: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, group_cost: int
) -> torch.Tensor:
    """Hidden states of every real token, in row-major order: rows of similar length run together,
    each right-padded (no attention mask: the causal mask alone keeps real tokens off the padding, and
    positions start at 0 as in generation)."""
    real = attention_mask.bool()
    lengths = real.sum(1).tolist()
    rows = [input_ids[i][real[i]] for i in range(input_ids.size(0))]
    hidden: list[torch.Tensor | None] = [None] * len(rows)
    for group in length_groups(lengths, group_cost):
        width = max(lengths[i] for i in group)
        batch = input_ids.new_zeros((len(group), width))
        for slot, i in enumerate(group):
            batch[slot, : lengths[i]] = rows[i]
        states = backbone(input_ids=batch, use_cache=False).last_hidden_state
        for slot, i in enumerate(group):
            hidden[i] = states[slot, : lengths[i]]
    return torch.cat([h for h in hidden if h is not None])


def prompt_groups(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, width: int
) -> list[list[int]] | None:
    """Rows grouped by identical prompt (the real tokens before the last ``width`` columns), first-seen
    order; None when no two rows share a prompt or a row's tokens are not laid out as TRL lays them
    (left-padded prompt of at least one token, completion right-padded from the first completion column)."""
    prompt_width = input_ids.size(1) - width
    if prompt_width <= 0:
        return None
    real = attention_mask.bool()
    prompt, completion = real[:, :prompt_width], real[:, prompt_width:]
    left_padded = (prompt.long().flip(1).cumprod(1).sum(1) == prompt.sum(1)) & prompt.any(1)
    right_padded = completion.long().cumprod(1).sum(1) == completion.sum(1)
    if not bool((left_padded & right_padded).all()):
        return None
    groups: dict[tuple[int, ...], list[int]] = {}
    for row in range(input_ids.size(0)):
        groups.setdefault(tuple(input_ids[row, :prompt_width][prompt[row]].tolist()), []).append(row)
    return list(groups.values()) if len(groups) < input_ids.size(0) else None


def _shared_prompt_predictors(
    backbone: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    width: int,
    groups: list[list[int]],
    group_cost: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For every row, the hidden states that predict its completion tokens (the prompt's last one, then
    the completion's but its last), concatenated row after row; and each row's offset in that result.

    Each distinct prompt runs through the backbone once; its keys and values, with their gradients,
    serve every completion of its rows (grouped by length as in :func:`length_groups`).
    """
    from transformers import DynamicCache

    from zerosearch.common.policies.transformers import cache_keyword

    prompt_width = input_ids.size(1) - width
    lengths = attention_mask[:, prompt_width:].sum(1).tolist()
    predictors: list[torch.Tensor | None] = [None] * input_ids.size(0)
    keyword = cache_keyword(backbone)
    for rows in groups:
        first = rows[0]
        prompt = input_ids[first, :prompt_width][attention_mask[first, :prompt_width].bool()].unsqueeze(0)
        prefix = DynamicCache()
        out = backbone(input_ids=prompt, use_cache=True, **{keyword: prefix})
        last = out.last_hidden_state[0, -1:]  # predicts every row's first completion token
        if prefix.get_seq_length() != prompt.size(1):
            raise RuntimeError("the backbone kept no keys and values of the prompt: cannot share it")
        shared = [(layer.keys, layer.values) for layer in prefix.layers]
        for subgroup in length_groups([lengths[row] for row in rows], group_cost):
            members = [rows[i] for i in subgroup]
            longest = max(lengths[row] for row in members)
            if longest <= 1:  # nothing after the first completion token needs a forward pass
                for row in members:
                    predictors[row] = last[: lengths[row]]
                continue
            batch = input_ids.new_zeros((len(members), longest - 1))
            for slot, row in enumerate(members):
                batch[slot, : lengths[row] - 1] = input_ids[
                    row, prompt_width : prompt_width + lengths[row] - 1
                ]
            cache = DynamicCache()
            for index, (keys, values) in enumerate(shared):
                cache.update(
                    keys.expand(len(members), -1, -1, -1), values.expand(len(members), -1, -1, -1), index
                )
            start = prompt.size(1)
            positions = torch.arange(start, start + longest - 1, device=batch.device).expand(len(members), -1)
            states = backbone(
                input_ids=batch, position_ids=positions, use_cache=True, **{keyword: cache}
            ).last_hidden_state
            for slot, row in enumerate(members):
                predictors[row] = torch.cat([last, states[slot, : lengths[row] - 1]])[: lengths[row]]
    offsets = torch.tensor([0, *lengths[:-1]], device=input_ids.device).cumsum(0)
    return torch.cat([p for p in predictors if p is not None]), offsets


def scored_logps(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    scored: torch.Tensor,
    *,
    temperature: float,
    compute_entropy: bool = True,
    group_cost: int = GROUP_COST,
    share_prompts: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probabilities (and entropies) of the last ``scored.size(1)`` columns of
    ``input_ids`` under ``model`` at ``temperature``; zero where ``scored`` is 0 or the token is padding.

    ``input_ids``/``attention_mask``: (batch, prompt + completion), each row's real tokens contiguous
    (left-padded prompt, right-padded completion, as TRL builds them); ``scored``: (batch, completion).
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    width = scored.size(1)
    # Gradient checkpointing drops a forward's KV cache in training: the prompt cannot be shared then.
    checkpointing = any(getattr(m, "gradient_checkpointing", False) for m in base.base_model.modules())
    share = share_prompts and not (checkpointing and base.training)
    groups = prompt_groups(input_ids, attention_mask, width) if share else None
    if groups is not None:
        chosen = scored.bool() & attention_mask[:, -width:].bool()
        predictors, offsets = _shared_prompt_predictors(
            base.base_model, input_ids, attention_mask, width, groups, group_cost
        )
        columns = torch.arange(width, device=input_ids.device)
        picked = predictors[(offsets.unsqueeze(1) + columns.unsqueeze(0))[chosen]]
    else:
        index, _ = packed_positions(attention_mask)
        hidden = _backbone_hidden(base.base_model, input_ids, attention_mask, group_cost)
        chosen = scored.bool() & (index[:, -width:] >= 0)
        before = index[:, -width - 1 : -1][chosen]  # the position that predicts each scored token
        if (before < 0).any():
            raise ValueError("a scored token follows padding: each row's real tokens must be contiguous")
        picked = hidden[before]
    _, logp, token_logps = _head_logps(base, picked, input_ids[:, -width:][chosen], temperature)
    out = torch.zeros(scored.shape, dtype=token_logps.dtype, device=token_logps.device)
    out = out.masked_scatter(chosen, token_logps)
    if not compute_entropy:
        return out, None
    entropy = -(logp.exp() * logp).sum(-1)
    entropies = torch.zeros_like(out).masked_scatter(chosen, entropy)
    return out, entropies


def _head_logps(
    base: Any, hidden: torch.Tensor, labels: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The LM head over the chosen hidden states only: logits at ``temperature``, their log-softmax and
    each label's log-probability."""
    logits = base.get_output_embeddings()(hidden).float() / temperature
    logp = torch.log_softmax(logits, dim=-1)
    return logits, logp, logp.gather(1, labels.unsqueeze(1)).squeeze(1)


def label_positions_only(model: Any) -> bool:
    """Make the fused LM head TRL's SFTTrainer added to ``model`` (``fused_lm_head=True``, temperature 1)
    project only the positions whose label is not -100, on CPU; TRL projects every position off Triton
    devices. Returns whether it did (a head :func:`supports_scored_logps` cannot reproduce keeps TRL's).
    MoE router losses and pre-shifted labels go to TRL's head unchanged."""
    from trl.trainer.utils import FusedCausalLMOutput

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if not supports_scored_logps(base):
        return False
    trl_forward = base.forward

    def forward(*args: Any, fused_lm_head: bool = False, labels: Any = None, **kwargs: Any) -> Any:
        special = kwargs.get("shift_labels") is not None or kwargs.get("output_router_logits")
        if not fused_lm_head or labels is None or special:
            return trl_forward(*args, fused_lm_head=fused_lm_head, labels=labels, **kwargs)
        items = kwargs.pop("num_items_in_batch", None)
        kwargs.pop("shift_labels", None)
        kwargs["use_cache"] = False
        hidden = base.base_model(*args, **kwargs).last_hidden_state[:, :-1]
        targets = labels[:, 1:]
        mask = targets != -100
        picked = targets[mask]
        logits, logp, token = _head_logps(base, hidden[mask], picked, 1.0)
        with torch.no_grad():
            entropy = -(logp.exp() * logp).sum(-1)
            top1 = logits.argmax(-1) == picked
        log_probs = token.new_zeros(mask.shape).masked_scatter(mask, token)
        loss = -log_probs.sum() / (mask.sum().clamp(min=1) if items is None else items)
        return FusedCausalLMOutput(
            loss=loss,
            log_probs=log_probs,
            entropy=entropy.new_zeros(mask.shape).masked_scatter(mask, entropy),
            is_top1=top1.new_zeros(mask.shape).masked_scatter(mask, top1),
            label_mask=mask,
        )

    base.forward = forward
    return True
