"""The transformers policy: stop-string cuts on sampled ids, greedy and seeded reproducibility, logprobs."""

from __future__ import annotations

import pytest

from zerosearch.common.policies.transformers import cut_at_stop

pytestmark = pytest.mark.model


def test_cut_keeps_ids_through_the_token_that_completes_the_stop(tokenizer) -> None:  # type: ignore[no-untyped-def]
    ids = tokenizer.encode("<search> moby dick </search> and more text", add_special_tokens=False)
    keep, found = cut_at_stop(ids, tokenizer, ["</search>", "</answer>"], {tokenizer.eos_token_id})
    assert found == "</search>" and tokenizer.decode(ids[:keep]) == "<search> moby dick </search>"


def test_cut_stops_before_eos_and_ignores_a_missing_stop(tokenizer) -> None:  # type: ignore[no-untyped-def]
    eos = tokenizer.eos_token_id
    ids = [*tokenizer.encode("no tags here", add_special_tokens=False), eos, eos]
    assert cut_at_stop(ids, tokenizer, ["</answer>"], {eos}) == (len(ids) - 2, None)


def test_generate_is_batched_reproducible_and_cut_at_stop(policy) -> None:  # type: ignore[no-untyped-def]
    tok = policy.tokenizer
    prompts = [tok.encode("Count: 1, 2, 3, 4,"), tok.encode("The days of the week are Monday, Tuesday,")]
    greedy = policy.generate(prompts, max_new_tokens=12, stop=[","], temperature=0.0, top_p=1.0)
    again = policy.generate(prompts, max_new_tokens=12, stop=[","], temperature=0.0, top_p=1.0)
    assert [g.ids for g in greedy] == [g.ids for g in again]
    for gen in greedy:
        assert len(gen.logprobs) == len(gen.ids) and all(lp <= 0 for lp in gen.logprobs)
        if gen.stop == ",":  # the cut sits right after the token that completed the stop string
            assert "," in gen.text and "," not in tok.decode(gen.ids[:-1])
    sampled = [
        policy.generate(prompts, max_new_tokens=8, stop=[], temperature=1.0, top_p=0.95, seed=5)
        for _ in range(2)
    ]
    assert [g.ids for g in sampled[0]] == [g.ids for g in sampled[1]]
