"""Every rendered object validates: built-ins against Kubernetes 1.33's schemas (strict), custom
resources against the openAPIV3Schema of their CRD from ../shared/upstream/ (unknown fields rejected)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.charts.conftest import CrdLoader, chart_render

KUBE_VERSION = chart_render.KUBE_VERSION


@pytest.fixture(scope="session")
def crd_schemas(upstream: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """openAPIV3Schema by (apiVersion, kind) of every served version of the upstream CRDs."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(upstream.glob("*/crds/*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=CrdLoader):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for version in doc["spec"]["versions"]:
                if version.get("served"):
                    schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def is_builtin(doc: dict[str, Any]) -> bool:
    group = doc["apiVersion"].rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def unknown_fields(node: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields the API server would prune: keys absent from a schema that does not allow extras."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found: list[str] = []
    if isinstance(node, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, value in node.items():
            if props is not None and key in props:
                found += unknown_fields(value, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                found += unknown_fields(value, extra, f"{path}.{key}")
            elif props is not None and path and key not in {"apiVersion", "kind", "metadata"}:
                found.append(f"{path}.{key}")
            elif props is not None and not path and key not in props:
                found.append(key)
    elif isinstance(node, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(node):
            found += unknown_fields(item, schema["items"], f"{path}[{index}]")
    return found


def test_builtin_objects_validate_strictly(platform, prereqs):
    checked = 0
    for rendered in (platform, prereqs):
        for doc in rendered.docs:
            if is_builtin(doc):
                kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
                checked += 1
    assert checked


def test_custom_resources_validate_against_their_crds(platform, crd_schemas):
    custom = [d for d in platform.docs if not is_builtin(d)]
    assert custom
    for doc in custom:
        key = (doc["apiVersion"], doc["kind"])
        assert key in crd_schemas, f"no served CRD version for {key}"
        schema = crd_schemas[key]
        jsonschema.Draft7Validator(schema).validate(doc)
        assert not unknown_fields(doc, schema), f"{doc['kind']}/{doc['metadata']['name']}: unknown fields"


@pytest.mark.parametrize(
    "autoscaling",
    [(), ("seldon.deployments[0].autoscaling.maxReplicas=3",)],
    ids=["fixed-replicas", "autoscaled"],
)
def test_seldon_deployment_validates_against_its_crd(render, crd_schemas, autoscaling):
    model = "seldon.deployments[0].name=fraud,seldon.deployments[0].modelUri=s3://mlflow/1/models/m-1/artifacts"
    (doc,) = render(model, *autoscaling).of_kind("SeldonDeployment")
    assert ("hpaSpec" in doc["spec"]["predictors"][0]["componentSpecs"][0]) == bool(autoscaling)
    schema = crd_schemas[(doc["apiVersion"], doc["kind"])]
    jsonschema.Draft7Validator(schema).validate(doc)
    assert not unknown_fields(doc, schema)


def test_unknown_field_check_catches_a_typo(crd_schemas):
    schema = crd_schemas[("kafka.strimzi.io/v1", "KafkaTopic")]
    typo = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "t"},
        "spec": {"partitions": 1, "replica": 1},
    }
    assert unknown_fields(typo, schema) == [".spec.replica"]
