"""Deployment files against the code they run: every command is a real `zerosearch` verb with real options
(parsed by our Typer app), every variable they set is read by our settings, and the simulator's port and
probe paths are routes of its FastAPI app."""

from __future__ import annotations

import importlib
import pkgutil
import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest

from zerosearch.common.defaults import SIMULATOR_PORT

from .support import (
    COMPOSE_CPU,
    COMPOSE_FILE,
    DOCKERFILES,
    ROOT,
    Dockerfile,
    env_example,
    env_var_names,
    exec_form,
    interpolate,
    k8s_documents,
    load_compose,
    merge_compose,
    parse_cli,
    pod_containers,
    settings_env_names,
    source_mentions,
)

# Variables read by libraries rather than our settings (Hugging Face hub, rq-dashboard) or read by our code
# through os.environ (checked below by source_mentions).
LIBRARY_ENV = {"HF_HOME", "HF_TOKEN", "RQ_DASHBOARD_REDIS_URL"}
OS_ENVIRON_ENV = {"SERPAPI_API_KEY"}
USAGE = re.compile(r"(?:docker compose run --rm \w+|kubectl .* exec \S+ --) (zerosearch [^`#\n]*)")


def _compose_stacks() -> dict[str, dict[str, Any]]:
    env = env_example()[0]
    base = load_compose(COMPOSE_FILE)
    return {
        "gpu": interpolate(base, env),
        "cpu": interpolate(merge_compose(base, load_compose(COMPOSE_CPU)), env),
    }


def _container_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every command our images run in compose, Dockerfiles and k8s."""
    found = []
    for stack, doc in _compose_stacks().items():
        for name, service in doc["services"].items():
            if "build" in service and service["command"][0] == "zerosearch":
                found.append((f"compose[{stack}] {name}", service["command"]))
    for service, path in DOCKERFILES.items():
        for stage in Dockerfile.parse(path).stages:
            argv = exec_form(stage.args_of("CMD")[-1])
            if argv[0] == "zerosearch":
                found.append((f"{service} Dockerfile [{stage.name}]", argv))
    for file, doc in k8s_documents():
        for container in pod_containers(doc):
            if container["image"].startswith("zerosearch/"):
                found.append(
                    (f"k8s/{file} {container['name']}", container["command"] + container.get("args", []))
                )
    return found


def _documented_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every `docker compose run ... zerosearch ...` shown in the deployment files and docs."""
    sources = [
        COMPOSE_FILE,
        COMPOSE_CPU,
        ROOT / "docs" / "deployment.md",
        *sorted((ROOT / "configs").glob("compose-*")),
    ]
    found = []
    for path in sources:
        for match in USAGE.finditer(path.read_text()):
            found.append((path.name, shlex.split(match[1].strip())))
    return found


def test_every_image_runs_a_zerosearch_worker_or_server() -> None:
    verbs = {tuple(argv[1:3]) for _, argv in _container_commands()}
    assert verbs == {("simulator", "serve"), ("trainer", "worker"), ("evaluator", "worker")}


@pytest.mark.parametrize(
    ("where", "argv"), _container_commands(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_container_commands_parse_with_our_cli(where: str, argv: list[str]) -> None:
    try:
        ctx = parse_cli(argv)
    except click.UsageError as exc:
        pytest.fail(f"{where}: {shlex.join(argv)}: {exc.format_message()}")
    if argv[1:3] == ["simulator", "serve"]:
        assert ctx.params["port"] == SIMULATOR_PORT and ctx.params["host"] == "0.0.0.0"


def test_documented_commands_parse_and_their_configs_exist() -> None:
    documented = _documented_commands()
    assert any(argv[1:3] == ["train", "submit"] for _, argv in documented)
    for where, argv in documented:
        try:
            ctx = parse_cli(argv)
        except click.UsageError as exc:
            pytest.fail(f"{where}: {shlex.join(argv)}: {exc.format_message()}")
        config = ctx.params.get("config")
        if config is not None:  # relative to WORKDIR /app, where the images copy configs/
            assert (ROOT / Path(config)).is_file(), f"{where}: {config} does not exist"


def test_a_bad_verb_or_option_is_caught() -> None:
    # The parser used above really refuses what the CLI refuses.
    for argv in (["zerosearch", "trainer", "wrk"], ["zerosearch", "evaluator", "worker", "--queue", "eval"]):
        with pytest.raises(click.UsageError):
            parse_cli(argv)


def _settings_for(service: str) -> set[str]:
    from zerosearch.common.settings import CommonSettings

    if service == "simulator":
        from zerosearch.simulator.settings import SimulatorSettings

        return settings_env_names(SimulatorSettings)
    return settings_env_names(CommonSettings)


def _env_sets() -> list[tuple[str, str, set[str]]]:
    """(where, service, variable names) for compose services, Dockerfile stages and k8s containers."""
    found = []
    for stack, doc in _compose_stacks().items():
        for name in ("simulator", "trainer", "evaluator"):
            found.append((f"compose[{stack}]", name, env_var_names(doc["services"][name].get("environment"))))
    for service, path in DOCKERFILES.items():
        for stage in Dockerfile.parse(path).stages:
            if stage.name != "dashboard":
                found.append((f"Dockerfile[{stage.name}]", service, set(stage.env())))
    config_maps = {
        doc["metadata"]["name"]: doc["data"] for _, doc in k8s_documents() if doc["kind"] == "ConfigMap"
    }
    for _, doc in k8s_documents():
        for container in pod_containers(doc):
            if container["image"].startswith("zerosearch/"):
                names = {entry["name"] for entry in container.get("env", [])}
                for source in container.get("envFrom", []):
                    names |= set(config_maps[source["configMapRef"]["name"]])
                found.append(("k8s", container["name"], names))
    return found


@pytest.mark.parametrize(
    ("where", "service", "names"), _env_sets(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_variable_set_is_read_by_the_service(where: str, service: str, names: set[str]) -> None:
    read = _settings_for(service) | LIBRARY_ENV | OS_ENVIRON_ENV
    ours = {
        n
        for n in names
        if n.startswith("ZEROSEARCH_") or n == "REDIS_URL" or n in LIBRARY_ENV | OS_ENVIRON_ENV
    }
    assert ours - read == set(), f"{where} {service}: set but never read"
    # The CLI's own --log-level also reads ZEROSEARCH_LOG_LEVEL; it is a CommonSettings field too.
    assert "REDIS_URL" in read and "ZEROSEARCH_LOG_LEVEL" in read


def test_variables_read_through_os_environ_are_really_read() -> None:
    for name in OS_ENVIRON_ENV:
        assert source_mentions(name), f"no code reads {name}"


def _simulator_paths() -> set[str]:
    """GET/POST paths of every FastAPI app or router defined in zerosearch.simulator (app factory included)."""
    from fastapi import APIRouter, FastAPI

    import zerosearch.simulator as package

    paths: set[str] = set()
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if ".engines." in info.name:  # engines import torch/vLLM; they define no routes
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, FastAPI | APIRouter):
                paths |= {getattr(route, "path", "") for route in value.routes}
        factory = getattr(module, "create_app", None)
        if callable(factory):
            paths |= {getattr(route, "path", "") for route in factory().routes}
    return paths


def test_probe_paths_and_port_match_the_simulator_app() -> None:
    paths = _simulator_paths()
    for path in ("/healthz", "/readyz", "/metrics", "/search", "/docs"):
        assert path in paths, f"the simulator app serves no {path}"
    stacks = _compose_stacks()
    for stack in stacks.values():
        simulator = stack["services"]["simulator"]
        assert "127.0.0.1:8000/readyz" in " ".join(simulator["healthcheck"]["test"])
        assert simulator["ports"][0].endswith(f":{SIMULATOR_PORT}")
    for path in DOCKERFILES.values():
        for stage in Dockerfile.parse(path).stages:
            if stage.name != "dashboard" and "simulator" in str(path):
                assert f"127.0.0.1:{SIMULATOR_PORT}/readyz" in stage.args_of("HEALTHCHECK")[0]
                assert stage.args_of("EXPOSE") == [str(SIMULATOR_PORT)]
