"""Upgrading a running platform from the previous chart (N) to this one (N+1) keeps its state.

N is the chart of commit PREVIOUS (before the CRDs left the releases, with Airflow's migrations as a
hook), installed by its own chart.mk; N+1 is installed over it by today's `make install`. The API
server, Helm and the controllers are real; nodes, pods and the operators' status are simulated (see
test_install.py). Every generated credential, every volume and the data objects (a served model's
SeldonDeployment, the PostgreSQL cluster, the Kafka cluster) must come through unchanged, and the CRDs
that release N owned as templates must not be deleted by the upgrade that stops rendering them.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.charts.conftest import CHARTS, chart_render, require_real_subcharts
from tests.cluster.conftest import LocalCluster
from tests.cluster.test_install import generated_credentials, make, objects, remove_platform, succeeded

REPO = Path(__file__).resolve().parents[2]
# The chart this work started from (the last commit before CRDs left the releases).
PREVIOUS = "02bbcd6"

MODEL = """apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: fraud-detector-7
  namespace: mlp-models
  labels: {mlplatform.io/registered-model: fraud-detector}
spec:
  protocol: v2
  predictors:
    - name: champion
      replicas: 1
      graph:
        name: model
        implementation: MLFLOW_SERVER
        modelUri: s3://mlflow/1/models/m-7/artifacts
        envSecretRefName: mlp-seldon-rclone
"""


def previous_chart(target: Path) -> Path:
    """Charts and profiles of commit PREVIOUS, with the same pinned dependency archives as today's."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", PREVIOUS, "charts", "values"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    target.mkdir()
    (target / "previous.tar").write_bytes(archive)
    with tarfile.open(target / "previous.tar") as tar:
        tar.extractall(target, filter="data")
    for chart in ("mlplatform", "mlplatform-prereqs"):
        (target / "charts" / chart / "charts").mkdir(exist_ok=True)
        for dep in chart_render.dependencies(chart):
            shutil.copy2(
                CHARTS / chart / "charts" / chart_render.archive_name(dep), target / "charts" / chart / "charts"
            )
    return target


def uids(cluster: LocalCluster, kinds: str, namespace: str | None = None) -> dict[str, str]:
    return {f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["uid"] for o in objects(cluster, kinds, namespace)}


@pytest.fixture(scope="module")
def upgraded(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    require_real_subcharts()
    previous = previous_chart(tmp_path_factory.mktemp("previous") / "tree")
    # A cluster that never had the platform: release N installs the CRDs as it did.
    groups = {d["spec"]["group"] for d in chart_render.crds(["dev"])}
    for crd in objects(cluster, "crd"):
        if crd["spec"]["group"] in groups:
            cluster.kubectl("delete", "crd", crd["metadata"]["name"], "--timeout=2m")
    # Release N, as its own chart.mk installed it (its chart-deps needed the internet, its smoke a pod).
    try:
        installed = make(cluster, "chart-prereqs", "chart-platform", tree=previous, PROFILE="dev")
        succeeded(installed)
        cluster.kubectl("apply", "-f", "-", stdin=MODEL)
        before = {
            "credentials": generated_credentials(cluster),
            "volumes": uids(cluster, "pvc", "mlp"),
            "data": data_objects(cluster),
            "crds": uids(cluster, "crd"),
        }
        yield {"before": before, "upgrade": make(cluster, "install", PROFILE="dev")}
    finally:
        remove_platform(cluster)


def data_objects(cluster: LocalCluster) -> dict[str, str]:
    """A served model's SeldonDeployment, the PostgreSQL and the Kafka cluster, by their UIDs."""
    return {
        **uids(cluster, "seldondeployments.machinelearning.seldon.io", "mlp-models"),
        **uids(cluster, "clusters.postgresql.cnpg.io,kafkas.kafka.strimzi.io", "mlp"),
    }


def test_the_upgrade_succeeds_with_both_releases_on_the_new_chart(upgraded, cluster):
    output = succeeded(upgraded["upgrade"])
    assert "All platform components are ready." in output
    for release, namespace in (("mlp-prereqs", "mlp-system"), ("mlp", "mlp")):
        history = subprocess.run(
            [chart_render.helm(), "--kube-context", "mlp-local", "history", release, "-n", namespace],
            env=cluster.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "Upgrade complete" in history.splitlines()[-1], history


def test_every_credential_is_kept(upgraded, cluster):
    before = upgraded["before"]["credentials"]
    after = generated_credentials(cluster)
    changed = [key for key, data in before.items() if after.get(key) != data]
    assert not changed, changed


def test_volumes_and_data_objects_are_the_same_objects(upgraded, cluster):
    assert uids(cluster, "pvc", "mlp") == upgraded["before"]["volumes"]
    assert data_objects(cluster) == upgraded["before"]["data"]


def test_crds_the_old_release_owned_are_not_deleted(upgraded, cluster):
    before = upgraded["before"]["crds"]
    after = uids(cluster, "crd")
    for name in (
        "CustomResourceDefinition/seldondeployments.machinelearning.seldon.io",
        "CustomResourceDefinition/clusters.postgresql.cnpg.io",
    ):
        assert after[name] == before[name], name
    assert set(before) <= set(after)
