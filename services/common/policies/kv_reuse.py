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
- ``generate`` then runs the model over columns ``C..`` only.

    cached = CachedRows.after_generate(out.past_key_values, out.sequences.tolist(), starts)
    reuse = plan_reuse(cached, next_prompts)          # None when too little would be saved
    cache = build_cache(cached, next_prompts, reuse)  # pass as past_key_values
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import DynamicCache

__all__ = ["MIN_REUSED_COLUMNS", "CachedRows", "Reuse", "build_cache", "common_prefix", "plan_reuse"]

MIN_REUSED_COLUMNS = 16
"""Below this many cached columns a rebuild saves less than it costs: prefill as usual."""


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


def plan_reuse(cached: CachedRows, prompts: list[list[int]]) -> Reuse | None:
    """Match each prompt with its longest cached prefix; None when fewer than MIN_REUSED_COLUMNS columns
    would be cached for the whole left-padded batch."""
    longest = max(len(p) for p in prompts)
    sources, width = [], longest
    for prompt in prompts:
        # At least the last token is fed again: generate needs its logits.
        reusable = [min(common_prefix(tokens, prompt), len(prompt) - 1) for tokens in cached.tokens]
        source = max(range(len(reusable)), key=reusable.__getitem__)
        sources.append(source)
        width = min(width, longest - len(prompt) + reusable[source])
    return Reuse(width, sources) if width >= MIN_REUSED_COLUMNS else None


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
