"""Run-config validation: clear messages naming the field; the shipped configs load; algorithm mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerosearch.common.errors import ConfigError
from zerosearch.trainer.algorithms import ALGORITHMS, algorithm_settings
from zerosearch.trainer.config import load_train_config, parse_train_config

REPO = Path(__file__).resolve().parents[2]
BASE = {
    "model": "smollm2-135m",
    "simulator_url": "http://127.0.0.1:8000",
    "datasets": ["nq"],
    "output_dir": "r",
}


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"algorithm": "a2c"}, "algorithm: unknown algorithm 'a2c': use one of grpo, dr_grpo, dapo, rloo"),
        ({"algorithm": "ppo"}, "no PPOTrainer"),
        ({"curriculum": {"p_start": -0.2}}, "curriculum.p_start: Input should be greater than or equal to 0"),
        ({"curriculum": {"p_end": 1.2}}, "curriculum.p_end: Input should be less than or equal to 1"),
        ({"steps": 0}, "steps: steps must be ≥ 1, got 0"),
        ({"num_generations": 1}, "num_generations: num_generations (group size) must be in [2, 1024]"),
        ({"datasets": []}, "datasets: List should have at least 1 item"),
        ({"model": None}, "model: Input should be a valid string"),
        ({"simulator_url": "localhost:8000"}, "simulator_url: simulator_url must start with http://"),
        ({"learnin_rate": 1e-6}, "learnin_rate: unknown field"),
        (
            {"search_retry": {"retries": 0}},
            "search_retry.retries: Input should be greater than or equal to 1",
        ),
        (
            {"prompts_per_step": 3, "num_generations": 2, "micro_batch_size": 4},
            "micro_batch_size (4) must divide",
        ),
    ],
)
def test_bad_config_names_the_field(change: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_train_config({**BASE, **change})
    assert needle in info.value.message


def test_missing_fields_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        parse_train_config({"simulator_url": "http://x"})
    for name in ("model: required", "datasets: required", "output_dir: required"):
        assert name in info.value.message


@pytest.mark.parametrize("name", ["cpu-tiny.yaml", "paper-qwen2.5-3b.yaml"])
def test_shipped_configs_load(name: str) -> None:
    config = load_train_config(REPO / "configs" / name)
    assert config.rollouts_per_step % config.num_generations == 0


def test_paper_config_has_the_papers_hyper_parameters() -> None:
    config = load_train_config(REPO / "configs" / "paper-qwen2.5-3b.yaml")
    assert (config.prompts_per_step, config.num_generations, config.steps) == (64, 5, 203)
    assert (config.learning_rate, config.beta, config.epsilon) == (1e-6, 0.001, 0.2)
    assert (config.curriculum.p_start, config.curriculum.p_end, config.curriculum.base) == (0.0, 0.5, 4.0)
    assert config.use_vllm and config.reward == "f1" and config.rollout.top_k == 5


def test_missing_or_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_train_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_train_config(bad)


def test_every_algorithm_maps_to_valid_grpo_config_fields(tmp_path: Path) -> None:
    from trl import GRPOConfig

    for name in ALGORITHMS:
        settings = algorithm_settings(name)
        args = GRPOConfig(output_dir=str(tmp_path), report_to="none", bf16=False, **settings)
        assert args.loss_type == settings["loss_type"]
    assert algorithm_settings("rloo")["scale_rewards"] == "none"
    assert algorithm_settings("reinforce_baseline")["scale_rewards"] == "batch"


def test_algorithm_names_mean_what_they_say(tmp_path: Path) -> None:
    from trl import GRPOConfig

    from zerosearch.trainer.algorithms import Algorithm, uses_raw_reward
    from zerosearch.trainer.trl_trainer import RawRewardGRPOTrainer, SearchGRPOTrainer, trainer_class

    assert uses_raw_reward("reinforce") and not uses_raw_reward("reinforce_baseline")
    assert trainer_class("reinforce") is RawRewardGRPOTrainer and trainer_class("grpo") is SearchGRPOTrainer
    gspo = GRPOConfig(output_dir=str(tmp_path), report_to="none", bf16=False, **algorithm_settings("gspo"))
    assert gspo.importance_sampling_level == "sequence" and (gspo.epsilon, gspo.epsilon_high) == (3e-4, 4e-4)
    assert algorithm_settings("cispo")["loss_type"] == "cispo"
    # grpo: TRL's per-sequence mean by default, the reference's token mean on request
    assert algorithm_settings("grpo")["loss_type"] == "grpo"
    assert algorithm_settings("grpo", loss_aggregation="token_mean")["loss_type"] == "dapo"
    config = parse_train_config({**BASE, "algorithm": "GRPO", "loss_aggregation": "token_mean"})
    assert config.algorithm is Algorithm.GRPO and config.trl_settings()["loss_type"] == "dapo"
    with pytest.raises(ConfigError, match="cispo aggregates by token"):
        parse_train_config({**BASE, "algorithm": "cispo", "loss_aggregation": "sequence_mean"})


def test_paper_config_warms_up_over_95_percent_with_an_entropy_bonus(tmp_path: Path) -> None:
    import torch
    from transformers import get_scheduler

    from zerosearch.trainer.grpo import build_grpo_args
    from zerosearch.trainer.run_dir import RunDir

    config = load_train_config(REPO / "configs" / "paper-qwen2.5-3b.yaml", use_vllm=False, bf16=False)
    args = build_grpo_args(config, RunDir(tmp_path))
    assert args.lr_scheduler_type == "constant_with_warmup" and args.get_warmup_steps(203) == 193
    assert args.entropy_coef == 0.001 and args.loss_type == "dapo"  # the reference's token-mean
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=args.learning_rate)
    schedule = get_scheduler(args.lr_scheduler_type, optimizer, args.get_warmup_steps(203), 203)
    rates = []
    for _ in range(203):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == 0.0 and rates[96] == pytest.approx(1e-6 * 96 / 193) and rates[193:] == [1e-6] * 10


def test_auto_eval_inherits_the_runs_rollout_limits_unless_overridden(tmp_path: Path) -> None:
    from zerosearch.common.trajectory import RolloutLimits
    from zerosearch.evaluator.config import EvalConfig, build_eval_config
    from zerosearch.trainer.callbacks import eval_payload
    from zerosearch.trainer.config import TrainConfig

    assert TrainConfig.model_fields["rollout"].annotation is RolloutLimits and issubclass(
        EvalConfig, RolloutLimits
    )
    limits = {"max_turns": 2, "max_new_tokens": 500, "max_completion_tokens": 4096, "top_k": 4}

    def evaluated(**change: object) -> EvalConfig:
        config = parse_train_config({**BASE, "rollout": limits, **change})
        again = parse_train_config(config.model_dump(mode="json"))  # the job payload round trip
        return build_eval_config(eval_payload(again.eval, tmp_path / "ckpt", tmp_path / "eval", None))

    inherited = evaluated().rollout_config()
    assert {k: getattr(inherited, k) for k in limits} == limits
    overridden = evaluated(eval={"rollout": {"top_k": 2}})
    assert (overridden.top_k, overridden.max_turns, overridden.max_completion_tokens) == (2, 2, 4096)
    legacy = evaluated(eval={"max_turns": 1, "extra": {"max_new_tokens": 16, "batch_size": 3}})
    assert (legacy.max_turns, legacy.max_new_tokens, legacy.top_k, legacy.batch_size) == (1, 16, 4, 3)
    flat = parse_train_config({**BASE, "max_turns": 1, "max_completion_length": 192})  # older payloads
    assert (flat.rollout.max_turns, flat.rollout.max_completion_tokens) == (1, 192)
    with pytest.raises(ConfigError, match=r"eval\.rollout\.top_k: Input should be less than or equal to 20"):
        parse_train_config({**BASE, "eval": {"rollout": {"top_k": 50}}})


def test_the_readme_algorithm_table_matches_the_settings() -> None:
    import re

    from zerosearch.trainer.algorithms import Algorithm

    text = (REPO / "README.md").read_text()
    section = text[text.index("## Training") : text.index("## Evaluation")]
    rows = [line for line in section.splitlines() if re.match(r"\| `\w+` \|", line)]
    named = {}
    for row in rows:
        name, settings = re.findall(r"\| `(\w+)` \| ([^|]*)\|", row)[0]
        named[name] = dict(re.findall(r'`(\w+)=("?[\w.\-]+"?)`', settings))
    named.pop("algorithm", None)  # the header row
    assert set(named) == {a.value for a in Algorithm}
    for name, written in named.items():
        actual = algorithm_settings(name)
        for key, value in written.items():
            value = value.strip('"')
            if isinstance(actual[key], float):
                assert actual[key] == float(value), (name, key)
            else:
                assert str(actual[key]) == value, (name, key)


def test_training_evaluation_and_collection_share_one_rollout_model() -> None:
    from zerosearch.common.defaults import MAX_TURNS
    from zerosearch.common.trajectory import RolloutLimits
    from zerosearch.tuning.config import CollectConfig

    assert CollectConfig.model_fields["rollout"].annotation is RolloutLimits
    collect = CollectConfig(top_k=2, max_new_tokens=4)  # flags and payloads may stay flat
    assert (collect.rollout.top_k, collect.rollout.max_new_tokens, collect.rollout.max_turns) == (
        2,
        4,
        MAX_TURNS,
    )
    assert CollectConfig().rollout.max_new_tokens == 128
