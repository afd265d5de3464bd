"""The chart split: operators and CRDs in mlplatform-prereqs, only custom resources in mlplatform."""

from __future__ import annotations

import base64
import gzip
import io
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PINS = {
    "mlplatform-prereqs": {
        "strimzi-kafka-operator": ("1.2.0", "oci://quay.io/strimzi-helm"),
        "cloudnative-pg": ("0.29.0", "https://cloudnative-pg.github.io/charts"),
        "seldon-core-operator": ("1.17.1", "https://storage.googleapis.com/seldon-charts"),
        "kube-prometheus-stack": ("88.5.3", "oci://ghcr.io/prometheus-community/charts"),
    },
    "mlplatform": {
        "minio": ("5.4.0", "https://charts.min.io/"),
        "airflow": ("1.22.0", "https://airflow.apache.org"),
    },
}
CRD_SOURCES = {
    "kafka.strimzi.io": "strimzi-kafka-operator-1.2.0",
    "postgresql.cnpg.io": "cloudnative-pg-0.29.0",
    "machinelearning.seldon.io": "seldon-core-operator-1.17.1",
    "monitoring.coreos.com": "kube-prometheus-stack-88.5.3",
}


@pytest.mark.parametrize("chart", sorted(PINS))
def test_dependencies_are_pinned_with_conditions(chart):
    deps = yaml.safe_load((REPO / "charts" / chart / "Chart.yaml").read_text())["dependencies"]
    assert {d["name"]: (d["version"], d["repository"]) for d in deps} == PINS[chart]
    values = yaml.safe_load((REPO / "charts" / chart / "values.yaml").read_text())
    for dep in deps:
        top, key = dep["condition"].split(".")
        assert isinstance(values[top][key], bool), dep["name"]
        assert dep["tags"], dep["name"]


def test_umbrella_holds_no_crds_and_no_hooks(platform):
    assert not platform.of_kind("CustomResourceDefinition")
    for doc in platform.docs:
        assert "helm.sh/hook" not in doc["metadata"].get("annotations", {}), doc["metadata"]["name"]


def test_every_custom_resource_is_defined_by_a_prerequisite(platform, upstream):
    kinds = {
        (d["apiVersion"].split("/")[0], d["kind"])
        for d in platform.docs
        if "." in d["apiVersion"].split("/")[0] and not d["apiVersion"].split("/")[0].endswith("k8s.io")
    }
    assert kinds
    for group, kind in kinds:
        crds = (upstream / CRD_SOURCES[group] / "crds").glob("*.yaml")
        assert any(f"kind: {kind}\n" in p.read_text() for p in crds), (group, kind)


def test_umbrella_release_stays_far_below_the_secret_limit(platform):
    """Helm stores the gzipped, base64 manifest plus the chart in a Secret limited to 1 MiB."""
    stored = base64.b64encode(gzip.compress(platform.text.encode()))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(
            REPO / "charts" / "mlplatform",
            arcname="mlplatform",
            filter=lambda info: None if info.name.endswith(".tgz") else info,
        )
    assert len(stored) + len(buffer.getvalue()) < 256 * 1024


def test_prereqs_generate_grafana_admin_login(prereqs):
    secret = prereqs.get("Secret", "mlp-grafana-admin")
    assert set(secret["data"]) == {"admin-user", "admin-password"}
    assert len(base64.b64decode(secret["data"]["admin-password"])) >= 32


def test_strimzi_watches_the_platform_namespace(chart_values):
    assert chart_values["mlplatform-prereqs"]["strimzi-kafka-operator"]["watchAnyNamespace"] is True
