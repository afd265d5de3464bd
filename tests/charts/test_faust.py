"""Faust stream processors: one Deployment per processor in values (templates/faust/)."""

from __future__ import annotations

from typing import Any


def processors(rendered: Any) -> list[dict[str, Any]]:
    return [d for d in rendered.of_kind("Deployment") if d["metadata"]["name"].startswith("mlp-faust-")]


def env(deployment: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_one_deployment_per_declared_processor(platform, chart_values):
    declared = chart_values["mlplatform"]["faust"]["processors"]
    assert {d["metadata"]["name"] for d in processors(platform)} == {f"mlp-faust-{p['name']}" for p in declared}


def test_processors_use_existing_topics_and_kafka_user(platform):
    topics = {t["metadata"]["name"] for t in platform.of_kind("KafkaTopic")}
    users = {u["metadata"]["name"] for u in platform.of_kind("KafkaUser")}
    (connect,) = platform.of_kind("KafkaConnect")
    for deployment in processors(platform):
        variables = env(deployment)
        assert set(variables["INPUT_TOPICS"]["value"].split(",")) <= topics
        assert set(variables["OUTPUT_TOPICS"]["value"].split(",")) <= topics
        assert variables["KAFKA_BOOTSTRAP_SERVERS"]["value"] == connect["spec"]["bootstrapServers"]
        assert variables["KAFKA_SASL_USERNAME"]["value"] in users
        assert (
            variables["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
            == variables["KAFKA_SASL_USERNAME"]["value"]
        )


def test_metrics_port_is_scraped_by_the_pod_monitor(platform):
    monitor = platform.get("PodMonitor", "mlp-faust")
    for deployment in processors(platform):
        pod = deployment["spec"]["template"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        ports = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
        assert monitor["spec"]["podMetricsEndpoints"][0]["port"] in ports


def test_prod_processors_are_replicated_with_budgets(prod):
    for deployment in processors(prod):
        assert deployment["spec"]["replicas"] >= 2
        prod.get("PodDisruptionBudget", deployment["metadata"]["name"])
