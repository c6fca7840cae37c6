"""Policy factory and the OpenAI-compatible engine against a local server in the completions shape."""

from __future__ import annotations

import importlib.util

import pytest

from tests.common.servers import serve
from zerosearch.common.errors import ConfigError, EngineError
from zerosearch.common.policies import make_policy
from zerosearch.common.policies.openai import OpenAIPolicy, restore_stop


def test_openai_policy_batches_prompts_and_restores_stop_strings(tokenizer) -> None:  # type: ignore[no-untyped-def]
    def completions(call):  # type: ignore[no-untyped-def]
        # vLLM reports the matched stop in stop_reason; a plain server only says finish_reason="stop".
        choices = [
            {"index": 1, "text": "<answer> Paris ", "finish_reason": "stop"},
            {"index": 0, "text": "<search> moby dick ", "finish_reason": "stop", "stop_reason": "</search>"},
        ]
        return 200, {"id": "c", "object": "text_completion", "choices": choices}

    with serve({("POST", "/v1/completions"): completions}) as server:
        policy = OpenAIPolicy("m", tokenizer, base_url=f"{server.url}/v1", api_key="k", retries=1)
        prompts = [tokenizer.encode("first prompt"), tokenizer.encode("second prompt")]
        gens = policy.generate(
            prompts, max_new_tokens=8, stop=["</search>", "</answer>"], temperature=0.0, top_p=1
        )
        policy.close()
    body = server.calls[0].body
    assert body["prompt"] == ["first prompt", "second prompt"] and body["max_tokens"] == 8
    assert server.calls[0].headers["authorization"] == "Bearer k"
    assert [g.text for g in gens] == ["<search> moby dick </search>", "<answer> Paris </answer>"]
    assert [g.stop for g in gens] == ["</search>", "</answer>"]
    assert (
        gens[0].ids == tokenizer.encode(gens[0].text, add_special_tokens=False) and gens[0].logprobs is None
    )


def test_openai_policy_retries_then_raises(tokenizer) -> None:  # type: ignore[no-untyped-def]
    with serve({("POST", "/v1/completions"): lambda call: (502, {"error": "bad gateway"})}) as server:
        policy = OpenAIPolicy("m", tokenizer, base_url=f"{server.url}/v1", retries=2, backoff_s=0.01)
        with pytest.raises(EngineError, match="answered HTTP 502 after 2 attempts"):
            policy.generate([[1, 2]], max_new_tokens=4, stop=[], temperature=0.0, top_p=1.0)
    assert len(server.calls) == 2


def test_restore_stop_leaves_eos_and_length_stops_alone() -> None:
    assert restore_stop("text", ["</answer>"], "length") == ("text", None)
    assert restore_stop("done", ["</answer>"], "stop") == ("done", None)  # no opened tag: an EOS stop


@pytest.mark.parametrize(
    ("engine", "opts", "message"),
    [
        ("tgi", {}, "unknown policy engine 'tgi': use one of transformers, vllm, openai"),
        ("transformers", {"temperature": 1}, "unknown option 'temperature' for engine 'transformers'"),
        ("openai", {}, "engine 'openai' needs base_url"),
    ],
)
def test_make_policy_rejects_bad_input(engine: str, opts: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_policy(engine, "smollm2-135m", **opts)
    assert message in info.value.message


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_engine_without_vllm_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match=r"pip install 'zerosearch\[vllm\]'"):
        make_policy("vllm", "smollm2-135m")
