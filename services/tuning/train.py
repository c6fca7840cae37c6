"""Stage 4: fine-tune the simulator with TRL's SFTTrainer; the loss covers the documents only.

The examples are conversational prompt-completion pairs (:mod:`zerosearch.tuning.build`), so
SFTTrainer masks the prompt and trains on the assistant message (``completion_only_loss``). LoRA runs
through peft and is merged into the base weights at the end, so the output is always a plain HF folder
that ``zerosearch simulator serve --model <dir> --prompt-style tuned`` loads. The folder also holds
``zerosearch.json``, which records the prompt style the model was tuned on and how it was trained.

    report = main(SFTTrainConfig(data_dir=Path("runs/sft/data"), output_dir=Path("runs/sft/model"),
                                 max_steps=20, learning_rate=5e-5))
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from zerosearch.common.defaults import MODEL_CARD_FILE
from zerosearch.common.errors import DatasetError
from zerosearch.common.models import load_tokenizer, resolve_model
from zerosearch.common.queue import report_progress
from zerosearch.common.tracking import TENSORBOARD_DIR, report_targets
from zerosearch.tuning.build import PROMPT_STYLE, SFTExample
from zerosearch.tuning.config import SFTTrainConfig
from zerosearch.tuning.records import read_jsonl

__all__ = ["MODEL_CARD_FILE", "TrainReport", "load_examples", "main"]

log = logging.getLogger(__name__)


class TrainReport(BaseModel):
    """Where the tuned model went and what the losses were."""

    output_dir: Path
    steps: int
    train_examples: int
    valid_examples: int
    first_loss: float | None
    last_loss: float | None
    eval_loss: float | None
    seconds: float


def load_examples(data_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """train/valid rows in TRL's prompt-completion shape; a missing or empty train set is an error."""
    train_path, valid_path = Path(data_dir) / "train.jsonl", Path(data_dir) / "valid.jsonl"
    if not train_path.is_file():
        raise DatasetError(f"no {train_path}: run `zerosearch sft build` first", param="data_dir")

    def rows(path: Path) -> list[dict[str, Any]]:
        return [{"prompt": e.prompt, "completion": e.completion} for e in read_jsonl(path, SFTExample)]

    train = rows(train_path)
    if not train:
        raise DatasetError(f"{train_path} holds no examples: nothing to train on", param="data_dir")
    valid = rows(valid_path) if valid_path.is_file() else []
    return train, valid


def _device(config: SFTTrainConfig) -> str:
    # Heavy dependency (torch): imported on use, so importing this module stays light.
    import torch

    if config.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return config.device


def _trl_config(config: SFTTrainConfig, device: str, has_valid: bool) -> Any:
    # Heavy dependency (torch): imported on use, so importing this module stays light.
    import torch
    from trl import SFTConfig

    bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    return SFTConfig(
        output_dir=str(Path(config.output_dir) / "checkpoints"),
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of max_steps
        logging_steps=config.logging_steps,
        eval_strategy="steps" if has_valid and config.eval_steps else "no",
        eval_steps=config.eval_steps,
        save_strategy="no",  # the final folder is written once, merged, at the end
        report_to=report_targets(config.report_to, Path(config.output_dir) / TENSORBOARD_DIR),
        seed=config.seed,
        max_length=config.max_length,
        completion_only_loss=True,  # the prompt (query, question, answer) is context, not a target
        use_cpu=device == "cpu",
        bf16=bf16,
        gradient_checkpointing=config.gradient_checkpointing,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


def _peft_config(config: SFTTrainConfig) -> Any:
    if config.method != "lora":
        return None
    # Heavy dependency (PEFT): imported on use, so importing this module stays light.
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def _progress_callback(max_steps: int) -> Any:
    # Heavy dependency (transformers): imported on use, so importing this module stays light.
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):
        """Puts step and loss into the RQ job meta each time the trainer logs."""

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any
        ) -> None:
            loss = (logs or {}).get("loss")
            report_progress(stage="train", step=state.global_step, max_steps=max_steps, loss=loss)

    return _Progress()


def _save(trainer: Any, tokenizer: Any, config: SFTTrainConfig, report: dict[str, Any]) -> None:
    model = trainer.model
    if config.method == "lora":
        model = model.merge_and_unload()  # a plain folder: the simulator needs no peft to serve it
    out = Path(config.output_dir)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    card = {"prompt_style": str(PROMPT_STYLE), "base_model": config.model, "method": config.method, **report}
    (out / MODEL_CARD_FILE).write_text(json.dumps(card, indent=2, default=str))


def _losses(history: list[dict[str, Any]]) -> tuple[float | None, float | None, float | None]:
    train = [h["loss"] for h in history if "loss" in h]
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    return (train[0] if train else None, train[-1] if train else None, evals[-1] if evals else None)


def main(config: SFTTrainConfig) -> TrainReport:
    """Fine-tune ``config.model`` on ``config.data_dir`` and write the tuned folder."""
    train_rows, valid_rows = load_examples(config.data_dir)  # bad data fails before the model loads
    # Heavy dependency (datasets): imported on use, so importing this module stays light.
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer

    started = time.perf_counter()
    device = _device(config)
    path = resolve_model(config.model)
    tokenizer = load_tokenizer(path, padding_side="right")
    model = AutoModelForCausalLM.from_pretrained(path, dtype="float32")
    trainer = SFTTrainer(
        model=model,
        args=_trl_config(config, device, bool(valid_rows)),
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(valid_rows) if valid_rows else None,
        processing_class=tokenizer,
        peft_config=_peft_config(config),
        callbacks=[_progress_callback(config.max_steps)],
    )
    log.info(
        "sft: %d train / %d valid examples, %d steps on %s",
        len(train_rows),
        len(valid_rows),
        config.max_steps,
        device,
    )
    trainer.train()
    history = list(trainer.state.log_history)
    if valid_rows:
        history.append(trainer.evaluate())
    first, last, eval_loss = _losses(history)
    report = TrainReport(
        output_dir=Path(config.output_dir),
        steps=trainer.state.global_step,
        train_examples=len(train_rows),
        valid_examples=len(valid_rows),
        first_loss=first,
        last_loss=last,
        eval_loss=eval_loss,
        seconds=time.perf_counter() - started,
    )
    _save(trainer, tokenizer, config, report.model_dump(mode="json", exclude={"output_dir"}))
    report_progress(stage="train", step=report.steps, max_steps=config.max_steps, done=True)
    log.info("sft: tuned model in %s (loss %s → %s, eval %s)", config.output_dir, first, last, eval_loss)
    return report
