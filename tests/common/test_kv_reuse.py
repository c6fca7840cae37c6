"""KV reuse across turns: the plan, and the bundled model giving the same greedy text with and without it
while it computes fewer columns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.utils.fakes import EchoBackend, QuestionPolicy
from zerosearch.common.agent import run_rollouts
from zerosearch.common.policies.kv_reuse import CachedRows, common_prefix, plan_reuse, rows_are_cheaper
from zerosearch.common.template import build_prompt
from zerosearch.common.trajectory import QAItem, RolloutConfig


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert (
        common_prefix([1, 2], [1, 2, 3]) == 2 and common_prefix([], [1]) == 0 and common_prefix([5], [6]) == 0
    )


def test_the_plan_takes_the_longest_cached_prefix_and_the_narrowest_row() -> None:
    shared = list(range(100, 140))  # 40 tokens both cached rows start with
    cached = CachedRows(None, [shared + [1] * 10, shared + [2] * 20], [0, 0])  # type: ignore[arg-type]
    prompts = [shared + [2] * 20 + [7] * 5, shared + [1] * 10 + [8] * 30]  # lengths 65 and 80
    reuse = plan_reuse(cached, prompts)
    assert reuse is not None and reuse.sources == [1, 0]
    # row 0: pad 15 + 60 reusable = 75; row 1: pad 0 + 50 reusable = 50 → 50 columns cached for both
    assert reuse.width == 50
    assert plan_reuse(cached, [[9] * 30]) is None  # nothing shared: prefill as usual
    whole = plan_reuse(cached, [shared + [1] * 10])  # a prompt held entirely: its last token is fed again
    assert whole is not None and whole.width == 49 and whole.reused == [49]


def test_rows_run_on_their_own_when_the_rectangle_is_mostly_padding() -> None:
    shared = list(range(100, 140))
    cached = CachedRows(None, [shared, shared], [0, 0])  # type: ignore[arg-type]
    even = [shared + [1] * 100, shared + [2] * 100]
    reuse = plan_reuse(cached, even)
    assert reuse is not None and reuse.reused == [40, 40]
    # the same new length: the rectangle (2 × 100) beats two calls (2 × (99 + call cost))
    assert not rows_are_cheaper(even, reuse)
    uneven = [shared + [1] * 900, shared + [2] * 60]
    reuse = plan_reuse(cached, uneven)
    assert reuse is not None and reuse.width == 40
    # the rectangle computes 2 × 900 columns; the rows 899 + 59 (+ 2 calls)
    assert rows_are_cheaper(uneven, reuse) and not rows_are_cheaper(uneven, reuse, call_cost=500)


class _Forgetful(QuestionPolicy):
    forgotten = 0

    def forget(self) -> None:
        self.forgotten += 1


def test_the_agent_loop_forgets_before_and_after_every_batch(tokenizer: Any) -> None:
    policy = _Forgetful(tokenizer, lambda question: "Melville")
    items = [QAItem(id="q", question="who wrote moby dick", golden_answers=["Melville"])]
    run_rollouts(policy, EchoBackend(), items, RolloutConfig(max_turns=1, max_new_tokens=32, top_k=1))
    assert policy.forgotten == 2


def _columns(policy: Any) -> tuple[list[int], Any]:
    """Record the columns every forward of the decoder computes (and the hook's handle, to remove it)."""
    seen: list[int] = []
    handle = policy.model.get_decoder().register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["input_ids"].shape[1]), with_kwargs=True
    )
    return seen, handle


def test_reuse_gives_the_same_greedy_text_and_computes_less(policy: Any) -> None:
    tok = policy.tokenizer
    questions = ["who wrote moby dick"] * 3 + ["when did the berlin wall fall"]
    prompts = [tok.encode(build_prompt(q, tokenizer=tok), add_special_tokens=False) for q in questions]
    info = tok.encode(
        "\n\n<information>Doc 1: (Title: Moby-Dick) Moby-Dick is an 1851 novel by Herman Melville.</information>\n",
        add_special_tokens=False,
    )
    columns, hook = _columns(policy)
    texts, first_forward = {}, {}
    for reuse in (False, True):
        policy.reuse_kv = reuse
        policy.forget()
        columns.clear()
        one = policy.generate(
            prompts, max_new_tokens=24, stop=["</search>", "</answer>"], temperature=0.0, top_p=1.0
        )
        turn_one = len(columns)
        two = policy.generate(
            [p + g.ids + info for p, g in zip(prompts, one, strict=True)],
            max_new_tokens=16, stop=["</answer>"], temperature=0.0, top_p=1.0,
        )  # fmt: skip
        texts[reuse] = [g.text for g in one + two]
        first_forward[reuse] = (columns[0], columns[turn_one])  # the prefill of each turn
        assert (policy._cached is not None) is reuse
    hook.remove()
    policy.forget()
    policy.reuse_kv = True
    assert texts[True] == texts[False]
    width = max(len(p) for p in prompts)
    assert first_forward[False][0] == width and first_forward[False][1] > width
    # with reuse the group's prompt was prefilled once (one row of 3), then turn 1 fed 1 column; the answer
    # turn fed only what the search turn had not run
    assert first_forward[True][1] < first_forward[False][1] - width // 2


@contextmanager
def _recorded_forwards(policy: Any) -> Iterator[list[tuple[int, ...]]]:
    """The input shape of every decoder forward while inside; then the policy as the session left it."""
    shapes: list[tuple[int, ...]] = []
    hook = policy.model.get_decoder().register_forward_pre_hook(
        lambda module, args, kwargs: shapes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    try:
        yield shapes
    finally:
        hook.remove()
        policy.forget()
        policy.reuse_kv = True


def test_different_questions_prefill_their_common_instruction_once(policy: Any) -> None:
    """Every question follows the same instruction: it is prefilled once (one row), then each row computes
    only what follows it in its own prompt; the greedy text is the same as without reuse."""
    tok = policy.tokenizer
    questions = ["who wrote moby dick", "when did the berlin wall fall", "what is the capital of peru"]
    prompts = [tok.encode(build_prompt(q, tokenizer=tok), add_special_tokens=False) for q in questions]
    shared = min(common_prefix(prompts[0], p) for p in prompts[1:])
    assert shared > 100  # the chat template and the instruction
    texts = {}
    with _recorded_forwards(policy) as batches:
        for reuse in (False, True):
            policy.reuse_kv = reuse
            policy.forget()
            batches.clear()
            out = policy.generate(prompts, max_new_tokens=16, stop=["</search>"], temperature=0.0, top_p=1.0)
            texts[reuse] = [g.text for g in out]
            first_forwards = batches[:2]
    assert texts[True] == texts[False]
    width = max(len(p) for p in prompts)
    # with reuse: the instruction alone (1 row), then the batch over the columns after it
    assert first_forwards[0] == (1, shared)
    assert first_forwards[1][0] == 3 and first_forwards[1][1] == width - shared


def test_answer_turns_of_different_lengths_prefill_row_by_row(policy: Any) -> None:
    """Documents of different lengths: each row's new tokens run on their own (batch 1, no padding), the
    answer turn then feeds one column, and the greedy text is the one without reuse."""
    tok = policy.tokenizer
    questions = ["who wrote moby dick", "when did the berlin wall fall"]
    prompts = [tok.encode(build_prompt(q, tokenizer=tok), add_special_tokens=False) for q in questions]
    short = "Doc 1: (Title: Moby-Dick) Moby-Dick is an 1851 novel by Herman Melville."
    long = " ".join(
        f"Doc {i}: (Title: Berlin Wall) The Berlin Wall fell on 9 November 1989." for i in (1, 2, 3)
    )
    infos = [tok.encode(f"\n\n<information>{d * n}</information>\n", add_special_tokens=False)
             for d, n in ((short, 1), (long, 4))]  # fmt: skip
    texts, answer_turn = {}, {}
    with _recorded_forwards(policy) as shapes:
        for reuse in (False, True):
            policy.reuse_kv = reuse
            policy.forget()
            one = policy.generate(prompts, max_new_tokens=16, stop=["</search>"], temperature=0.0, top_p=1.0)
            second = [p + g.ids + info for p, g, info in zip(prompts, one, infos, strict=True)]
            shapes.clear()
            two = policy.generate(second, max_new_tokens=12, stop=["</answer>"], temperature=0.0, top_p=1.0)
            texts[reuse] = [g.text for g in one + two]
            answer_turn[reuse] = list(shapes)
    assert texts[True] == texts[False]
    width = max(len(p) for p in second)
    assert answer_turn[False][0] == (2, width)
    rows, rest = answer_turn[True][:2], answer_turn[True][2:]
    assert rows[0][0] == rows[1][0] == 1  # each row on its own ...
    assert rows[0][1] < rows[1][1] < width - 100  # ... only its new tokens: no padding, no prompt again
    assert rest[0] == (2, 1)  # then generate feeds the last column only
