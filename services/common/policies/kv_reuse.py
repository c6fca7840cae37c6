"""Keys and values reused across the turns of one rollout batch: a turn computes only what is new to it.

The agent loop calls the policy once per turn with prompt + history. The answer turn's context begins with
everything the search turn already ran through the model (the prompt and the search turn), and the rows of
a GRPO group share one prompt. The key and value of a token depend only on the tokens before it and on its
position, and positions count real tokens from 0 whatever the left padding (``attention_mask.cumsum``), so
a row's cached keys and values can move to another column and another batch:

- :func:`plan_reuse` matches each new row with the cached row sharing its longest token prefix and picks
  the cached width ``C`` of the new left-padded batch: every row's pad plus its reusable tokens, the
  minimum over rows (a column is cached for all rows or for none);
- :func:`build_cache` copies each row's reusable keys and values into a new cache ``C`` columns wide;
- ``generate`` then runs the model over columns ``C..`` only;
- when the rows' new parts differ in length (the answer turn: each row's own documents, 300 to 1,000
  tokens), that rectangle is mostly padding: :func:`prefill_rows` instead runs each row's new tokens on
  their own, after its reused keys and values, and hands ``generate`` a cache of every column but the
  last (:func:`rows_are_cheaper` decides; an evaluation batch of 15 computed 15 × 1,053 columns for
  6,087 real ones).

    cached = CachedRows.after_generate(out.past_key_values, out.sequences.tolist(), starts)
    reuse = plan_reuse(cached, next_prompts)          # None when too little would be saved
    cache = build_cache(cached, next_prompts, reuse)  # pass as past_key_values
    cache = prefill_rows(decoder, cached, next_prompts, reuse)  # or: all but the last column, row by row
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import DynamicCache

__all__ = [
    "MIN_REUSED_COLUMNS",
    "ROW_CALL_COST",
    "CachedRows",
    "Reuse",
    "build_cache",
    "common_prefix",
    "plan_reuse",
    "prefill_rows",
    "rows_are_cheaper",
]

MIN_REUSED_COLUMNS = 16
"""Below this many cached columns a rebuild saves less than it costs: prefill as usual."""

ROW_CALL_COST = 32
"""What one more forward call costs, in computed columns of one row: the 15 row prefills of an
evaluation batch took ~50 ms a call plus ~1.6 ms a column on 2 CPU cores (docs/benchmarks.md)."""


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two id lists (binary search over C-level slice compares)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


@dataclass
class CachedRows:
    """A KV cache and, per batch row, the ids whose keys/values it holds from column ``starts[row]`` on."""

    cache: DynamicCache
    tokens: list[list[int]]
    starts: list[int]

    @classmethod
    def after_generate(cls, cache: DynamicCache, sequences: list[list[int]], starts: list[int]) -> CachedRows:
        """What ``generate`` left: every column it fed the model (all but the last sampled token)."""
        width = cache.get_seq_length()
        return cls(cache, [row[start:width] for row, start in zip(sequences, starts, strict=True)], starts)


@dataclass(frozen=True)
class Reuse:
    """How the next batch reuses the cache: its cached width and, per new row, the cached row it copies."""

    width: int
    sources: list[int]
    reused: list[int]
    """Per new row, how many of its first tokens the cached row holds (at most all but its last)."""


def plan_reuse(cached: CachedRows, prompts: list[list[int]]) -> Reuse | None:
    """Match each prompt with its longest cached prefix; None when fewer than MIN_REUSED_COLUMNS columns
    would be cached for the whole left-padded batch."""
    longest = max(len(p) for p in prompts)
    sources, reused, width = [], [], longest
    for prompt in prompts:
        # At least the last token is fed again: generate needs its logits.
        reusable = [min(common_prefix(tokens, prompt), len(prompt) - 1) for tokens in cached.tokens]
        source = max(range(len(reusable)), key=reusable.__getitem__)
        sources.append(source)
        reused.append(reusable[source])
        width = min(width, longest - len(prompt) + reusable[source])
    return Reuse(width, sources, reused) if width >= MIN_REUSED_COLUMNS else None


def rows_are_cheaper(prompts: list[list[int]], reuse: Reuse, call_cost: int = ROW_CALL_COST) -> bool:
    """Whether :func:`prefill_rows` computes fewer columns (a call counted as ``call_cost``) than the
    left-padded rectangle ``generate`` would prefill after :func:`build_cache`."""
    longest = max(len(p) for p in prompts)
    rectangle = len(prompts) * (longest - reuse.width)
    rows = sum(len(p) - 1 - r + call_cost for p, r in zip(prompts, reuse.reused, strict=True))
    return rows < rectangle


def prefill_rows(decoder: Any, cached: CachedRows, prompts: list[list[int]], reuse: Reuse) -> DynamicCache:
    """A cache of every column but the last of the left-padded ``prompts``: each row's reused keys and
    values, then its other tokens run through ``decoder`` on their own (no padding computed), placed
    after the row's pad; ``generate`` then feeds only the last column."""
    # Heavy dependencies (torch, transformers): imported on use, so importing this module stays light.
    import torch
    from transformers import DynamicCache

    from zerosearch.common.policies.transformers import cache_keyword

    keyword = cache_keyword(decoder)
    longest = max(len(p) for p in prompts)
    layers = cached.cache.layers
    out = [
        (layer.keys.new_zeros(_shape(layer.keys, len(prompts), longest - 1)),
         layer.values.new_zeros(_shape(layer.values, len(prompts), longest - 1)))
        for layer in layers
    ]  # fmt: skip
    for row, (prompt, source, count) in enumerate(zip(prompts, reuse.sources, reuse.reused, strict=True)):
        begin = cached.starts[source]
        own = DynamicCache()
        for index, layer in enumerate(layers):
            own.update(
                layer.keys[source : source + 1, :, begin : begin + count],
                layer.values[source : source + 1, :, begin : begin + count],
                index,
            )
        rest = prompt[count:-1]
        if rest:
            ids = torch.tensor([rest], dtype=torch.long, device=layers[0].keys.device)
            positions = torch.arange(count, len(prompt) - 1, device=ids.device).unsqueeze(0)
            decoder(input_ids=ids, position_ids=positions, use_cache=True, **{keyword: own})
        column = longest - len(prompt)
        for (keys, values), layer in zip(out, own.layers, strict=True):
            keys[row, :, column:] = layer.keys[0]
            values[row, :, column:] = layer.values[0]
    new = DynamicCache()
    for index, (keys, values) in enumerate(out):
        new.update(keys, values, index)
    return new


def _shape(old: Any, rows: int, width: int) -> tuple[int, int, int, int]:
    return rows, old.shape[1], width, old.shape[3]


def build_cache(cached: CachedRows, prompts: list[list[int]], reuse: Reuse) -> DynamicCache:
    """A new cache ``reuse.width`` columns wide for the left-padded ``prompts``: each row's reusable keys
    and values copied into place; pad columns stay zero (the attention mask hides them)."""
    # Heavy dependency (transformers): imported on use, so importing this module stays light.
    from transformers import DynamicCache

    longest = max(len(p) for p in prompts)
    copies = []  # (new row, its first cached column, source row, source column, how many)
    for row, (prompt, source) in enumerate(zip(prompts, reuse.sources, strict=True)):
        pad = longest - len(prompt)
        count = reuse.width - pad
        if count > 0:
            copies.append((row, pad, source, cached.starts[source], count))
    new = DynamicCache()
    for index, layer in enumerate(cached.cache.layers):
        keys, values = (
            _moved(layer.keys, copies, len(prompts), reuse.width),
            _moved(layer.values, copies, len(prompts), reuse.width),
        )
        new.update(keys, values, index)
    return new


def _moved(old: Any, copies: list[tuple[int, int, int, int, int]], rows: int, width: int) -> Any:
    heads, dim = old.shape[1], old.shape[3]
    out = old.new_zeros((rows, heads, width, dim))
    for row, column, source, source_column, count in copies:
        out[row, :, column : column + count] = old[source, :, source_column : source_column + count]
    return out
