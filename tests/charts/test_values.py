"""Values: the schema catches mistakes, subchart keys are real, and the profiles keep their promises."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.conftest import require_real_subcharts

REPO = Path(__file__).resolve().parents[2]
UPSTREAM_VALUES = {
    "mlplatform": {"minio": "minio-5.4.0"},
    "mlplatform-prereqs": {
        "strimzi-kafka-operator": "strimzi-kafka-operator-1.2.0",
        "cloudnative-pg": "cloudnative-pg-0.29.0",
        "seldon-core-operator": "seldon-core-operator-1.17.1",
        "kube-prometheus-stack": "kube-prometheus-stack-88.5.3",
    },
}
# kube-prometheus-stack passes these sections on to its own subcharts (grafana, kube-state-metrics,
# node-exporter), whose values.yaml are not in ../shared/upstream: only their top key is checked.
NESTED_SUBCHARTS = {"kube-prometheus-stack": {"grafana", "kube-state-metrics", "prometheus-node-exporter"}}
# Values that are Kubernetes objects (free-form by nature), checked by the Kubernetes schemas instead.
KUBERNETES_OBJECTS = {
    "resources",
    "affinity",
    "nodeSelector",
    "tolerations",
    "securityContext",
    "storageSpec",
    "storage",
    "podAnnotations",
    "annotations",
    "labels",
}
PROFILE_FILES = {
    "mlplatform": [
        "charts/mlplatform/values.yaml",
        "values/dev.yaml",
        "values/prod.yaml",
        "values/airgapped.yaml",
    ],
    "mlplatform-prereqs": [
        "charts/mlplatform-prereqs/values.yaml",
        "values/prereqs/dev.yaml",
        "values/prereqs/prod.yaml",
        "values/prereqs/airgapped.yaml",
    ],
}


def load(path: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / path).read_text()) or {}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def missing_keys(ours: Any, theirs: Any, path: str, nested: set[str]) -> list[str]:
    """Keys we set that upstream's values.yaml does not have (free-form maps and lists excepted)."""
    if not isinstance(ours, dict) or not isinstance(theirs, dict) or not theirs:
        return []
    found = []
    for key, value in ours.items():
        if key not in theirs:
            found.append(f"{path}.{key}")
        elif key in KUBERNETES_OBJECTS:
            continue
        elif key not in nested or path.count(".") > 0:
            found += missing_keys(value, theirs[key], f"{path}.{key}", set())
    return found


@pytest.mark.parametrize("chart", sorted(UPSTREAM_VALUES))
def test_subchart_values_exist_upstream(chart, upstream):
    for values_file in PROFILE_FILES[chart]:
        ours = load(values_file)
        for subchart, folder in UPSTREAM_VALUES[chart].items():
            theirs = yaml.safe_load((upstream / folder / "values.yaml").read_text())
            assert not missing_keys(ours.get(subchart, {}), theirs, subchart, NESTED_SUBCHARTS.get(subchart, set())), (
                values_file
            )


def test_subchart_key_check_catches_a_typo(upstream):
    theirs = yaml.safe_load((upstream / "minio-5.4.0" / "values.yaml").read_text())
    assert missing_keys({"persistance": {"enabled": True}}, theirs, "minio", set()) == ["minio.persistance"]


def test_airflow_values_are_checked_by_its_own_schema(dev, render_failure):
    """The real Airflow chart's strict values.schema.json checks every key the profiles set (they render)
    and refuses a misspelt one."""
    require_real_subcharts()
    assert not dev.standins
    error = render_failure("airflow.migrateDatabaseJob.useHelmHook=false")
    assert "useHelmHook" in error and "schema" in error


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("kafka.connect.replicas=two", "/kafka/connect/replicas"),
        ("mlflow.image.tag=latest", "/mlflow/image/tag"),
        ("minio.rootPassword=hunter2", "/minio/rootPassword"),
        ("components.kafak=true", "kafak"),
        ("postgres.databases={mlflow}", "/postgres/databases"),
        ("availability.antiAffinity=always", "/availability/antiAffinity"),
    ],
)
def test_schema_rejects_mistakes_with_a_clear_message(render_failure, setting, message):
    error = render_failure(setting)
    assert "values don't meet the specifications of the schema" in error
    assert message in error


def test_prereqs_schema_rejects_mistakes(render_failure):
    assert "/components/strimzi" in render_failure("components.strimzi=yes please", chart="mlplatform-prereqs")


# -- profiles --------------------------------------------------------------------------------------

UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "": 1}


def cpu(value: Any) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory(value: Any) -> float:
    text = str(value)
    unit = text[-2:] if text[-2:] in UNITS else ""
    return float(text[: len(text) - len(unit)]) * UNITS[unit]


def requests(resources: dict[str, Any]) -> tuple[float, float]:
    return cpu(resources["requests"]["cpu"]), memory(resources["requests"]["memory"])


def rendered_requests(rendered: Any) -> tuple[float, float]:
    total = [0.0, 0.0]

    def add(resources: dict[str, Any] | None, times: int = 1) -> None:
        if resources and "requests" in resources:
            c, m = cpu(resources["requests"].get("cpu", 0)), memory(resources["requests"].get("memory", 0))
            total[0] += c * times
            total[1] += m * times

    for doc in rendered.docs:
        spec = doc.get("spec", {})
        if doc["kind"] in {"Deployment", "StatefulSet"}:
            for container in spec["template"]["spec"]["containers"]:
                add(container.get("resources"), int(spec.get("replicas", 1)))
        elif doc["kind"] == "DaemonSet":
            for container in spec["template"]["spec"]["containers"]:
                add(container.get("resources"))
        elif doc["kind"] in {"KafkaNodePool", "KafkaConnect"}:
            add(spec["resources"], spec["replicas"])
        elif doc["kind"] == "Cluster":
            add(spec["resources"], spec["instances"])
        elif doc["kind"] == "Kafka":
            add(spec["entityOperator"]["topicOperator"]["resources"])
            add(spec["entityOperator"]["userOperator"]["resources"])
            add(spec.get("kafkaExporter", {}).get("resources"))
    return total[0], total[1]


def declared_subchart_requests(umbrella: dict[str, Any], prereqs: dict[str, Any]) -> tuple[float, float]:
    """Requests the stand-in subcharts would create, read from the values (one node for DaemonSets)."""
    kps = prereqs["kube-prometheus-stack"]
    seldon = prereqs["seldon-core-operator"]["manager"]
    airflow = umbrella["airflow"]
    items = [
        umbrella["minio"]["resources"],
        prereqs["strimzi-kafka-operator"]["resources"],
        prereqs["cloudnative-pg"]["resources"],
        {"requests": {"cpu": seldon["cpuRequest"], "memory": seldon["memoryRequest"]}},
        kps["alertmanager"]["alertmanagerSpec"]["resources"],
        kps["grafana"]["resources"],
        kps["grafana"]["sidecar"]["resources"],
        kps["grafana"]["sidecar"]["resources"],
        kps["prometheusOperator"]["resources"],
        kps["kube-state-metrics"]["resources"],
        kps["prometheus-node-exporter"]["resources"],
        kps["prometheus"]["prometheusSpec"]["resources"],
    ]
    items += [airflow[c]["resources"] for c in ("scheduler", "apiServer", "dagProcessor", "triggerer", "statsd")]
    return sum(requests(r)[0] for r in items), sum(requests(r)[1] for r in items)


def test_dev_profile_fits_4_cpu_and_8_gib(dev, render):
    cpu_total, mem_total = rendered_requests(dev)
    prereq_render = render(profile="dev", chart="mlplatform-prereqs")
    c, m = rendered_requests(prereq_render)
    cpu_total, mem_total = cpu_total + c, mem_total + m
    if dev.standins or prereq_render.standins:
        umbrella = merge(load("charts/mlplatform/values.yaml"), load("values/dev.yaml"))
        prereqs = merge(load("charts/mlplatform-prereqs/values.yaml"), load("values/prereqs/dev.yaml"))
        c, m = declared_subchart_requests(umbrella, prereqs)
        cpu_total, mem_total = cpu_total + c, mem_total + m
    assert cpu_total <= 4.0, f"dev requests {cpu_total:.2f} CPU"
    assert mem_total <= 8 * 2**30, f"dev requests {mem_total / 2**30:.2f} GiB"


def test_dev_profile_runs_one_replica_of_each(dev):
    for doc in dev.of_kind("Deployment"):
        assert doc["spec"]["replicas"] == 1, doc["metadata"]["name"]
    assert all(p["spec"]["replicas"] == 1 for p in dev.of_kind("KafkaNodePool") + dev.of_kind("KafkaConnect"))


def test_prod_profile_is_highly_available():
    values = merge(load("charts/mlplatform/values.yaml"), load("values/prod.yaml"))
    assert values["availability"] == {"podDisruptionBudgets": True, "antiAffinity": "hard"}
    assert values["airflow"]["scheduler"]["replicas"] >= 2 and values["airflow"]["apiServer"]["replicas"] >= 2
    assert values["kafka"]["connect"]["replicas"] >= 2 and values["mlflow"]["replicas"] >= 2
    assert values["minio"]["persistence"]["enabled"] is True and values["postgres"]["instances"] == 3
    prereqs = merge(load("charts/mlplatform-prereqs/values.yaml"), load("values/prereqs/prod.yaml"))
    assert prereqs["kube-prometheus-stack"]["prometheus"]["prometheusSpec"]["storageSpec"]


REGISTRY = "registry.example.internal/"


def image_values(node: Any, path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if (
                isinstance(value, str)
                and value
                and (
                    key in {"image", "defaultAirflowRepository", "outputImage"}
                    or (key == "repository" and "/" in value)
                )
            ):
                found.append((here, value))
            elif isinstance(value, str) and value and key in {"registry", "imageRegistry", "defaultImageRegistry"}:
                found.append((here, value + "/"))
            found += image_values(value, here)
    return found


def test_airgapped_renders_every_image_from_the_private_registry(airgapped):
    images = [c["image"] for d in airgapped.workloads() for c in d["spec"]["template"]["spec"]["containers"]]
    images += [d["spec"]["imageName"] for d in airgapped.of_kind("Cluster")]
    images += [d["spec"]["build"]["output"]["image"] for d in airgapped.of_kind("KafkaConnect")]
    assert images and all(i.startswith(REGISTRY) for i in images), images
    (connect,) = airgapped.of_kind("KafkaConnect")
    repos = {a["repository"] for p in connect["spec"]["build"]["plugins"] for a in p["artifacts"]}
    assert all(r.startswith("https://registry.example.internal/") for r in repos)


@pytest.mark.parametrize(
    ("chart", "base", "profile"),
    [
        ("mlplatform", "charts/mlplatform/values.yaml", "values/airgapped.yaml"),
        ("mlplatform-prereqs", "charts/mlplatform-prereqs/values.yaml", "values/prereqs/airgapped.yaml"),
    ],
)
def test_airgapped_points_subchart_images_at_the_private_registry(chart, base, profile):
    values = merge(load(base), load(profile))
    subcharts = {
        k: v for k, v in values.items() if k in {"minio", "airflow"} | set(UPSTREAM_VALUES["mlplatform-prereqs"])
    }
    found = image_values(subcharts)
    assert found
    outside = [(p, v) for p, v in found if not v.startswith(REGISTRY)]
    assert not outside, outside
