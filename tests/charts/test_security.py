"""The chart's own workloads are hardened, and no credential appears in plain text anywhere."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SECRETISH = re.compile(r"pass(word)?|secret|token|credential|private.?key", re.IGNORECASE)


def own_workloads(rendered: Any) -> list[dict[str, Any]]:
    return [
        d
        for d in rendered.workloads()
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "mlplatform"
    ]


def containers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


def test_own_workloads_exist(platform):
    assert len(own_workloads(platform)) >= 2


def test_own_workloads_run_as_non_root_without_escalation(platform):
    for doc in own_workloads(platform):
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in containers(doc):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context.get("privileged") is not True
            assert context["capabilities"]["drop"] == ["ALL"]


def test_own_workloads_have_requests_limits_and_probes(platform):
    for doc in own_workloads(platform):
        for container in containers(doc):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])
            assert "readinessProbe" in container and "livenessProbe" in container, container["name"]


def test_images_are_pinned(platform):
    images = [c["image"] for d in platform.workloads() for c in containers(d)]
    images += [d["spec"]["imageName"] for d in platform.of_kind("Cluster")]
    images += [d["spec"]["build"]["output"]["image"] for d in platform.of_kind("KafkaConnect")]
    assert images
    for image in images:
        tail = image.rsplit("/", 1)[-1]
        assert ":" in tail or "@sha256:" in image, f"{image} has no tag"
        assert not tail.endswith(":latest"), image


def test_no_credential_outside_secrets(platform):
    secrets = [base64.b64decode(v).decode() for s in platform.of_kind("Secret") for v in s.get("data", {}).values()]
    generated = [v for v in secrets if len(v) >= 16 and v.isalnum()]
    assert generated
    for doc in platform.docs:
        if doc["kind"] == "Secret":
            assert "stringData" not in doc
            continue
        text = yaml.safe_dump(doc)
        leaked = [v for v in generated if v in text]
        assert not leaked, f"{doc['kind']}/{doc['metadata']['name']} holds a generated credential"


def test_secret_like_env_vars_come_from_secrets(platform):
    for doc in platform.workloads():
        for container in containers(doc):
            for env in container.get("env", []):
                if SECRETISH.search(env["name"]):
                    assert "valueFrom" in env and "value" not in env, f"{doc['metadata']['name']}: {env['name']}"


def test_credentials_are_generated_not_fixed(render, dev):
    again = render("images.pullPolicy=IfNotPresent")
    first = {s["metadata"]["name"]: s["data"] for s in dev.of_kind("Secret")}
    second = {s["metadata"]["name"]: s["data"] for s in again.of_kind("Secret")}
    assert first["mlp-minio-root"]["rootPassword"] != second["mlp-minio-root"]["rootPassword"]
    assert first["mlp-pg-mlflow"]["password"] != second["mlp-pg-mlflow"]["password"]


def test_no_password_in_values_files():
    files = [
        REPO / "charts/mlplatform/values.yaml",
        REPO / "charts/mlplatform-prereqs/values.yaml",
        *sorted((REPO / "values").rglob("*.yaml")),
    ]

    def walk(node: Any, path: str) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and value and re.fullmatch(r"(root|admin)?[Pp]assword|secretKey|pass", key):
                    yield f"{path}.{key}"
                yield from walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, path)

    for path in files:
        assert not list(walk(yaml.safe_load(path.read_text()), path.name)), path
