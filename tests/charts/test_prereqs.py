"""The chart split: operators and CRDs in mlplatform-prereqs, only custom resources in mlplatform."""

from __future__ import annotations

import base64
import gzip
import io
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.charts.conftest import chart_render, containers, require_real_subcharts

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


# The one hook the platform release keeps: MinIO's bucket and user job, which runs after Helm's wait and
# which no workload waits for.
PLATFORM_HOOKS = {("Job", "mlp-minio-post-job")}


def hooks(rendered) -> dict[tuple[str, str], str]:
    return {
        (d["kind"], d["metadata"]["name"]): d["metadata"]["annotations"]["helm.sh/hook"]
        for d in rendered.docs
        if "helm.sh/hook" in (d["metadata"].get("annotations") or {})
    }


def test_umbrella_holds_no_crds_and_only_the_minio_hook(platform):
    assert not platform.of_kind("CustomResourceDefinition")
    assert set(hooks(platform)) <= PLATFORM_HOOKS


def test_no_workload_waits_for_a_hook(platform):
    """`helm --wait` waits for workloads before it runs post-install hooks: a workload that waits for a
    hook's work (Airflow's wait-for-airflow-migrations) would deadlock the install."""
    waiting = [
        d
        for d in platform.workloads()
        if d["kind"] != "CronJob" and any(c["name"] == "wait-for-airflow-migrations" for c in containers(d))
    ]
    if platform.standins:
        assert not waiting
        return
    assert waiting, "the real Airflow chart renders its migration wait"
    migrations = platform.get("Job", "mlp-run-airflow-migrations")
    assert "helm.sh/hook" not in (migrations["metadata"].get("annotations") or {})


def test_prerequisites_render_no_crd(prereqs):
    """CRDs are applied by chart-crds outside the release: never stored in it, upgraded or deleted with it."""
    assert not prereqs.of_kind("CustomResourceDefinition")


def test_chart_crds_brings_every_operators_crd_marked_keep(upstream):
    require_real_subcharts()
    crds = chart_render.crds(["dev"])
    groups = {d["spec"]["group"] for d in crds}
    assert set(CRD_SOURCES) <= groups
    names = {d["metadata"]["name"] for d in crds}
    assert {"seldondeployments.machinelearning.seldon.io", "clusters.postgresql.cnpg.io"} <= names
    for doc in crds:
        assert doc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep", doc["metadata"]["name"]


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


def stored_estimate(rendered) -> int:
    """About what Helm stores for a release: the gzipped, base64 manifest plus the chart (not its subcharts)."""
    stored = base64.b64encode(gzip.compress(rendered.text.encode()))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(
            REPO / "charts" / rendered.chart,
            arcname=rendered.chart,
            filter=lambda info: None if "/charts/" in info.name else info,
        )
    return len(stored) + len(buffer.getvalue())


def test_umbrella_release_stays_far_below_the_secret_limit(platform):
    """Helm stores each release in a Secret limited to 1 MiB (tests/cluster measures it on a server)."""
    assert stored_estimate(platform) < 256 * 1024


def test_prerequisites_release_stays_under_40_percent_of_the_secret_limit(prereqs):
    assert stored_estimate(prereqs) < 0.4 * 2**20


def test_prereqs_generate_grafana_admin_login(prereqs):
    secret = prereqs.get("Secret", "mlp-grafana-admin")
    assert set(secret["data"]) == {"admin-user", "admin-password"}
    assert len(base64.b64decode(secret["data"]["admin-password"])) >= 32


def test_strimzi_watches_the_platform_namespace(chart_values):
    assert chart_values["mlplatform-prereqs"]["strimzi-kafka-operator"]["watchAnyNamespace"] is True
