"""A simulation-tuned folder's zerosearch.json sets the prompt style unless the user chose one."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from zerosearch.common.errors import ConfigError
from zerosearch.simulator.prompts import PromptStyle
from zerosearch.simulator.settings import get_simulator_settings


def _tuned_folder(tmp_path: Path, style: str) -> Path:
    (tmp_path / "zerosearch.json").write_text(json.dumps({"prompt_style": style}))
    return tmp_path


def test_tuned_folder_defaults_to_its_prompt_style(tmp_path: Path) -> None:
    settings = get_simulator_settings(model=str(_tuned_folder(tmp_path, "tuned")))
    assert settings.prompt_style is PromptStyle.TUNED


def test_explicit_style_wins_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _tuned_folder(tmp_path, "tuned")
    with caplog.at_level(logging.WARNING):
        settings = get_simulator_settings(model=str(folder), prompt_style="prompt-only")
    assert settings.prompt_style is PromptStyle.PROMPT_ONLY
    assert "was tuned for prompt style 'tuned'" in caplog.text


def test_unknown_style_in_the_card_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="prompt_style"):
        get_simulator_settings(model=str(_tuned_folder(tmp_path, "fancy")))


def test_plain_model_keeps_the_default() -> None:
    assert get_simulator_settings(model="smollm2-135m").prompt_style is PromptStyle.PROMPT_ONLY
