"""The model-metrics exporter: the platform's own exporter, wired to MLflow, the prediction log and Prometheus
(templates/model-exporter/)."""

from __future__ import annotations

import importlib.util
from typing import Any

from mlplatform.observability.settings import ModelExporterSettings

NAME = "mlp-model-exporter"


def container(rendered: Any) -> dict[str, Any]:
    return rendered.get("Deployment", NAME)["spec"]["template"]["spec"]["containers"][0]


def flags(rendered: Any) -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in container(rendered)["args"])


def test_it_runs_the_platforms_exporter_module(platform):
    command = container(platform)["command"]
    assert command[:2] == ["python", "-m"]
    assert importlib.util.find_spec(command[2]) is not None, f"{command[2]} is not a module of the platform package"


def test_it_reads_mlflow_and_the_prediction_log_the_scoring_processor_writes(platform):
    found = flags(platform)
    mlflow = platform.get("Service", "mlp-mlflow")
    assert (
        found["mlflow-url"]
        == f"http://mlp-mlflow.{mlflow['metadata']['namespace']}.svc:{mlflow['spec']['ports'][0]['port']}"
    )
    (connect,) = platform.of_kind("KafkaConnect")
    assert found["kafka-bootstrap"] == connect["spec"]["bootstrapServers"]
    scoring = platform.get("Deployment", "mlp-faust-scoring")["spec"]["template"]["spec"]["containers"][0]
    written = {e["name"]: e.get("value") for e in scoring["env"]}["MLP_STREAMING__PREDICTION_LOG_TOPIC"]
    assert found["topic"] == written
    assert written in {t["metadata"]["name"] for t in platform.of_kind("KafkaTopic")}


def test_its_kafka_user_may_read_the_prediction_log_in_its_group(platform):
    env = {e["name"]: e for e in container(platform)["env"]}
    fields = set(ModelExporterSettings.model_fields)
    assert {name.removeprefix("MLP_MODEL_EXPORTER__").lower() for name in env} <= fields
    user = platform.get("KafkaUser", env["MLP_MODEL_EXPORTER__KAFKA_USERNAME"]["value"])
    assert env["MLP_MODEL_EXPORTER__KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == user["metadata"]["name"]
    acls = user["spec"]["authorization"]["acls"]
    topic = flags(platform)["topic"]
    assert any(
        a["resource"] == {"type": "topic", "name": topic, "patternType": "literal"} and "Read" in a["operations"]
        for a in acls
    )
    group = ModelExporterSettings().group_id
    assert any(a["resource"].get("type") == "group" and a["resource"]["name"] == group for a in acls)


def test_it_reads_outcome_labels_from_the_change_topic_the_features_read(platform):
    """The online quality join: `is_fraud` of the transactions the feature processor reads, joined by id."""
    labels = flags(platform)["labels-topic"]
    features = platform.get("Deployment", "mlp-faust-features")["spec"]["template"]["spec"]["containers"][0]
    assert labels == {e["name"]: e.get("value") for e in features["env"]}["MLP_STREAMING__SOURCE_TOPIC"]
    assert labels == ModelExporterSettings().labels_topic
    env = {e["name"]: e for e in container(platform)["env"]}
    acls = platform.get("KafkaUser", env["MLP_MODEL_EXPORTER__KAFKA_USERNAME"]["value"])["spec"]["authorization"][
        "acls"
    ]
    assert any(
        a["resource"] == {"type": "topic", "name": labels, "patternType": "literal"} and "Read" in a["operations"]
        for a in acls
    )


def test_prometheus_scrapes_it_and_may_reach_it(platform):
    pod = platform.get("Deployment", NAME)["spec"]["template"]
    monitor = platform.get("PodMonitor", NAME)
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] in {p["name"] for p in container(platform)["ports"]}
    policy = platform.get("NetworkPolicy", NAME)
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_it_can_be_turned_off(render):
    rendered = render("monitoring.modelExporter.enabled=false")
    assert not [d for d in rendered.of_kind("Deployment") if d["metadata"]["name"] == NAME]
    assert not [m for m in rendered.of_kind("PodMonitor") if m["metadata"]["name"] == NAME]
