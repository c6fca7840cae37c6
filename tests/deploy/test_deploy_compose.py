"""docker-compose.yml and the CPU override against the Compose specification's JSON schema, and the
promises of the issue: Redis private with AOF, GPU reservations, ports, healthchecks, volumes, profiles."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from zerosearch.common.defaults import BUNDLED_MODEL_ALIAS

from .support import (
    COMPOSE_CPU,
    COMPOSE_FILE,
    DOCKERFILES,
    ROOT,
    Dockerfile,
    env_example,
    interpolate,
    interpolated_names,
    load_compose,
    merge_compose,
)

SCHEMA_PATH = Path(__file__).parent / "schemas" / "compose-spec.json"
SCHEMA_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"
GPU_SERVICES = ("simulator", "trainer", "evaluator")


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft201909Validator(schema)


@pytest.fixture(scope="module")
def gpu_stack() -> dict[str, Any]:
    """docker-compose.yml as Compose sees it with the documented .env.example values."""
    return interpolate(load_compose(COMPOSE_FILE), env_example()[0])


@pytest.fixture(scope="module")
def cpu_stack() -> dict[str, Any]:
    """docker-compose.yml + docker-compose.cpu.yml, merged and interpolated."""
    merged = merge_compose(load_compose(COMPOSE_FILE), load_compose(COMPOSE_CPU))
    return interpolate(merged, env_example()[0])


def _errors(validator: jsonschema.protocols.Validator, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_vendored_schema_is_the_published_file() -> None:
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_files_match_the_compose_specification(
    validator: jsonschema.protocols.Validator, gpu_stack: dict[str, Any], cpu_stack: dict[str, Any]
) -> None:
    assert _errors(validator, load_compose(COMPOSE_FILE)) == []
    assert _errors(validator, gpu_stack) == []
    assert _errors(validator, cpu_stack) == []


def test_schema_rejects_a_misspelt_key(
    validator: jsonschema.protocols.Validator, gpu_stack: dict[str, Any]
) -> None:
    # Proves the validation is strict: one typo in a service is caught.
    broken = json.loads(json.dumps(gpu_stack))
    broken["services"]["redis"]["healthchek"] = broken["services"]["redis"].pop("healthcheck")
    assert any("healthchek" in message for message in _errors(validator, broken))


def test_redis_persists_with_aof_and_stays_on_the_compose_network(gpu_stack: dict[str, Any]) -> None:
    redis = gpu_stack["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "ports" not in redis, "Redis must not be published beyond the compose network"
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])
    assert any(v.startswith("redis-data:/data") for v in redis["volumes"])
    for name in GPU_SERVICES:
        assert gpu_stack["services"][name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert gpu_stack["services"][name]["environment"]["REDIS_URL"] == "redis://redis:6379/0"


def test_gpu_services_reserve_an_nvidia_gpu(gpu_stack: dict[str, Any]) -> None:
    for name in GPU_SERVICES:
        devices = gpu_stack["services"][name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"], name
        assert gpu_stack["services"][name]["build"]["target"] == "gpu", name


def test_simulator_publishes_8000_and_checks_readyz(gpu_stack: dict[str, Any]) -> None:
    simulator = gpu_stack["services"]["simulator"]
    assert simulator["environment"]["ZEROSEARCH_ENGINE"] == "vllm"
    assert simulator["environment"]["ZEROSEARCH_MODEL"], "model comes from the environment"
    assert [p.rsplit(":", 2)[1:] for p in simulator["ports"]] == [["8000", "8000"]]
    assert "http://127.0.0.1:8000/readyz" in " ".join(simulator["healthcheck"]["test"])
    trainer = gpu_stack["services"]["trainer"]
    assert trainer["depends_on"]["simulator"]["condition"] == "service_healthy"


def test_named_volumes_hold_the_model_cache_checkpoints_and_results(gpu_stack: dict[str, Any]) -> None:
    assert {"hf-cache", "checkpoints", "results", "redis-data"} <= set(gpu_stack["volumes"])
    for name in ("trainer", "evaluator"):
        mounts = dict(v.split(":")[:2] for v in gpu_stack["services"][name]["volumes"])
        assert mounts["hf-cache"] == "/cache"
        assert mounts["checkpoints"] == "/app/runs"
        assert mounts["results"] == "/app/runs/eval"
        env = gpu_stack["services"][name]["environment"]
        assert env["HF_HOME"].startswith("/cache/") and env["ZEROSEARCH_CACHE_DIR"].startswith("/cache/")


def test_dashboard_is_an_optional_profile(gpu_stack: dict[str, Any]) -> None:
    services = gpu_stack["services"]
    assert services["dashboard"]["profiles"] == ["dashboard"]
    assert services["dashboard"]["command"][0] == "rq-dashboard"
    assert all("profiles" not in services[name] for name in ("redis", *GPU_SERVICES))


def test_cpu_stack_has_no_gpu_and_runs_the_bundled_model(cpu_stack: dict[str, Any]) -> None:
    for name in GPU_SERVICES:
        service = cpu_stack["services"][name]
        assert service["deploy"]["resources"]["reservations"] == {}, f"{name} still reserves a GPU"
        assert service["build"]["target"] == "cpu"
        assert service["build"]["dockerfile"] == f"services/{name}/Dockerfile"
        assert service["image"].endswith("-cpu")
    simulator = cpu_stack["services"]["simulator"]["environment"]
    assert simulator["ZEROSEARCH_ENGINE"] == "transformers"
    assert simulator["ZEROSEARCH_MODEL"] == BUNDLED_MODEL_ALIAS
    assert simulator["REDIS_URL"] == "redis://redis:6379/0", "override must keep the base environment"


def test_env_example_documents_every_variable() -> None:
    active, commented = env_example()
    documented = set(active) | commented
    used: set[str] = set()
    passed_through: set[str] = set()
    set_inside: set[str] = set()
    for path in (COMPOSE_FILE, COMPOSE_CPU):
        doc = load_compose(path)
        used |= interpolated_names(doc)
        for service in doc["services"].values():
            for key, value in (service.get("environment") or {}).items():
                (passed_through if value is None else set_inside).add(key)
    for dockerfile in DOCKERFILES.values():
        # Our own settings baked into the images; Python's and pip's switches need no documentation.
        stages = Dockerfile.parse(dockerfile).stages
        set_inside |= {n for stage in stages for n in stage.env() if n.startswith(("ZEROSEARCH_", "HF_"))}
    assert used - documented == set(), "interpolated but not in .env.example"
    assert passed_through - documented == set(), "passed through but not in .env.example"
    assert set_inside - documented == set(), "set in the containers but not listed in .env.example"
    compose_own = {"COMPOSE_FILE", "COMPOSE_PROFILES"}
    assert documented - used - passed_through - set_inside - compose_own == set(), "stale .env.example entry"
    # A pass-through variable must not be assigned empty: it would reach the container as "".
    assert passed_through & set(active) == set()


def test_every_env_example_entry_has_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    for number, line in enumerate(lines):
        if line and line[0].isupper() and "=" in line:
            # A group of related assignments (SIMULATOR_BIND, SIMULATOR_PORT) may share one comment.
            above = number - 1
            while above >= 0 and lines[above][:1].isupper():
                above -= 1
            assert above >= 0 and lines[above].startswith("#"), f".env.example line {number + 1}: no comment"


@pytest.mark.parametrize("name", ["compose-cpu.yaml", "compose-gpu.yaml"])
def test_compose_train_configs_are_valid_and_reach_the_simulator_service(
    name: str, gpu_stack: dict[str, Any]
) -> None:
    from zerosearch.trainer.config import load_train_config

    config = load_train_config(ROOT / "configs" / name)
    assert config.simulator_url == "http://simulator:8000"
    assert "simulator" in gpu_stack["services"]
    # Relative output folders land in /app/runs, the `checkpoints` volume (WORKDIR is /app).
    assert not config.output_dir.is_absolute() and config.output_dir.parts[0] == "runs"
