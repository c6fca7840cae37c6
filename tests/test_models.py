"""Model resolution: the bundled alias converts once to a plain fp32 HF folder that reloads by path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zerosearch.common.errors import ModelNotFoundError
from zerosearch.common.models import load_causal_lm, resolve_model


def test_bundled_alias_is_a_plain_hf_folder(bundled_model_path: str) -> None:
    folder = Path(bundled_model_path)
    assert (folder / "model.safetensors").is_file()
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config  # TRL refuses quantized models
    assert resolve_model("bundled") == bundled_model_path  # cached: same folder, no second conversion


def test_folder_loads_for_generation(bundled_model_path: str) -> None:
    model, tokenizer = load_causal_lm(bundled_model_path)
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    assert getattr(model, "hf_quantizer", None) is None
    ids = tokenizer("Paris is", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 3


@pytest.mark.parametrize(
    "spec, fragment",
    [("", "empty"), ("./no/such/folder", "not found"), ("/tmp/missing.gguf", "GGUF file not found")],
)
def test_bad_model_specs_are_named(spec: str, fragment: str) -> None:
    with pytest.raises(ModelNotFoundError, match=fragment):
        resolve_model(spec)


def test_hub_id_passes_through() -> None:
    assert resolve_model("Qwen/Qwen2.5-3B") == "Qwen/Qwen2.5-3B"
