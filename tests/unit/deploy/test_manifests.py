"""deploy/k8s and deploy/argocd, validated without a cluster.

Kubernetes objects are validated with kubernetes-validate's Python API against the schemas of Kubernetes
K8S_VERSION, strict (an unknown field is an error). It has no schemas for custom resources or kustomize's own file,
so the Argo CD Application and kustomization.yaml are checked with small JSON Schemas of exactly the fields we use
(``jsonschema``, which kubernetes-validate depends on), closed with additionalProperties: false so a typo fails too.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy" / "k8s"
ARGO_APPLICATION = REPO / "deploy" / "argocd" / "application.yaml"
K8S_VERSION = "1.35"
SERVE_COMMAND = ["minivess", "serve", "--host", "0.0.0.0", "--port", "3000"]
MANIFESTS = sorted(path.name for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@cache
def objects() -> dict[str, dict[str, Any]]:
    """kind → the one object of that kind in deploy/k8s."""
    found: dict[str, dict[str, Any]] = {}
    for name in MANIFESTS:
        for doc in load_all(K8S / name):
            assert doc["kind"] not in found, f"two {doc['kind']} objects"
            found[doc["kind"]] = doc
    return found


def k8s_validate(doc: dict[str, Any], strict: bool = True) -> str:
    """kubernetes-validate's verdict: the Kubernetes version it validated against, or ValidationError."""
    return kubernetes_validate.validate(doc, K8S_VERSION, strict=strict)


# --- Kubernetes objects ------------------------------------------------------------------------------------------


def test_the_manifests_are_the_expected_ones() -> None:
    assert MANIFESTS == ["configmap.yaml", "deployment.yaml", "namespace.yaml", "service.yaml"]
    assert set(objects()) == {"ConfigMap", "Deployment", "Namespace", "Service"}


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_is_valid_kubernetes(name: str) -> None:
    for doc in load_all(K8S / name):
        version = k8s_validate(doc)
        print(f"{name}: {doc['kind'].lower()}/{doc['metadata']['name']} passed against {version} (strict)")
        assert version == K8S_VERSION, f"kubernetes-validate has no {K8S_VERSION} schemas (it used {version})"


def _with(change: str) -> dict[str, Any]:
    deployment = copy.deepcopy(objects()["Deployment"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    if change == "port as a string":
        container["ports"][0]["containerPort"] = "3000"
    elif change == "unknown field":
        container["imagePullPolcy"] = container.pop("imagePullPolicy")
    elif change == "no selector":
        del deployment["spec"]["selector"]
    elif change == "probe without a port":
        del container["readinessProbe"]["httpGet"]["port"]
    return deployment


@pytest.mark.parametrize("change", ["port as a string", "unknown field", "no selector", "probe without a port"])
def test_broken_manifest_is_rejected(change: str) -> None:
    """The check can fail: each of these is refused (strict mode is what catches a misspelt field)."""
    with pytest.raises(kubernetes_validate.ValidationError):
        k8s_validate(_with(change))
    if change == "unknown field":
        assert k8s_validate(_with(change), strict=False) == K8S_VERSION


def _pod() -> dict[str, Any]:
    spec: dict[str, Any] = objects()["Deployment"]["spec"]["template"]["spec"]
    return spec


def test_serve_container() -> None:
    pod = _pod()
    [container] = pod["containers"]
    assert container["image"] == "ghcr.io/minivess/minivess:latest"
    assert container["command"] == SERVE_COMMAND
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/healthz" and ports.get(get["port"], get["port"]) == 3000, probe
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][bound])
    assert [source["configMapRef"]["name"] for source in container["envFrom"] if "configMapRef" in source] == [
        objects()["ConfigMap"]["metadata"]["name"]
    ]


def test_serve_runs_unprivileged_on_a_read_only_root() -> None:
    pod = _pod()
    [container] = pod["containers"]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    # the same user the image is built with
    uid = re.search(r"^ARG UID=(\d+)$", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert uid and pod["securityContext"]["runAsUser"] == int(uid.group(1))
    # the writable places: /tmp and the home, both volumes
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounted = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    home = objects()["ConfigMap"]["data"]["MINIVESS_HOME"]
    assert set(mounted) == {"/tmp", home}
    assert "emptyDir" in volumes[mounted["/tmp"]] and mounted[home] in volumes


def test_service_reaches_the_pods() -> None:
    service, deployment = objects()["Service"], objects()["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    [port] = service["spec"]["ports"]
    container_ports = {p["name"]: p["containerPort"] for p in _pod()["containers"][0]["ports"]}
    assert port["port"] == 3000 and container_ports[port["targetPort"]] == 3000


# --- kustomization.yaml ------------------------------------------------------------------------------------------

KUSTOMIZATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "namespace", "resources"],
    "properties": {
        "apiVersion": {"const": "kustomize.config.k8s.io/v1beta1"},
        "kind": {"const": "Kustomization"},
        "namespace": {"type": "string"},
        "resources": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "labels": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["pairs"],
                "properties": {
                    "pairs": {"type": "object", "additionalProperties": {"type": "string"}},
                    "includeSelectors": {"type": "boolean"},
                },
            },
        },
        "images": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "newTag": {"type": "string"}, "digest": {"type": "string"}},
            },
        },
    },
}


def test_kustomization_lists_every_manifest_in_one_namespace() -> None:
    [kustomization] = load_all(K8S / "kustomization.yaml")
    jsonschema.validate(kustomization, KUSTOMIZATION_SCHEMA)
    assert sorted(kustomization["resources"]) == MANIFESTS
    namespace = kustomization["namespace"]
    assert objects()["Namespace"]["metadata"]["name"] == namespace
    assert all(doc["metadata"].get("namespace", namespace) == namespace for doc in objects().values())
    image = objects()["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert [entry["name"] for entry in kustomization["images"]] == [image.rsplit(":", 1)[0]]


# --- Argo CD -----------------------------------------------------------------------------------------------------


def _closed(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


ARGO_APPLICATION_SCHEMA = _closed(
    ["apiVersion", "kind", "metadata", "spec"],
    apiVersion={"const": "argoproj.io/v1alpha1"},
    kind={"const": "Application"},
    metadata=_closed(
        ["name", "namespace"],
        name={"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        namespace={"type": "string"},
        finalizers={"type": "array", "items": {"type": "string"}},
    ),
    spec=_closed(
        ["project", "source", "destination", "syncPolicy"],
        project={"type": "string"},
        source=_closed(
            ["repoURL", "targetRevision", "path"],
            repoURL={"type": "string", "pattern": "^(https://|git@|ssh://)"},
            targetRevision={"type": "string", "minLength": 1},
            path={"type": "string"},
        ),
        destination=_closed(["server", "namespace"], server={"type": "string"}, namespace={"type": "string"}),
        syncPolicy=_closed(
            ["automated"],
            automated=_closed(["prune", "selfHeal"], prune={"const": True}, selfHeal={"const": True}),
            syncOptions={"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z]+=(true|false)$"}},
        ),
    ),
)


def test_argocd_application() -> None:
    [application] = load_all(ARGO_APPLICATION)
    jsonschema.validate(application, ARGO_APPLICATION_SCHEMA)
    spec = application["spec"]
    assert spec["source"]["path"] == "deploy/k8s" and (REPO / spec["source"]["path"] / "kustomization.yaml").is_file()
    assert spec["destination"]["namespace"] == objects()["Namespace"]["metadata"]["name"]


@pytest.mark.parametrize(
    "path, value",
    [
        ("spec.syncPolicy.automated.selfHeal", False),
        ("spec.syncPolicy.automated.selfheal", True),
        ("spec.source.repoURL", "github.com/minivess/minivess"),
        ("kind", "AppProject"),
    ],
)
def test_argocd_schema_rejects(path: str, value: object) -> None:
    application = json.loads(json.dumps(load_all(ARGO_APPLICATION)[0]))
    *parents, key = path.split(".")
    node = application
    for part in parents:
        node = node[part]
    node[key] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(application, ARGO_APPLICATION_SCHEMA)
