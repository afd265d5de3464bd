"""Stream processors: one Deployment per processor in values, running what `mlp up` runs (templates/faust/)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from tests.charts.conftest import component_settings

ROOT = Path(__file__).resolve().parents[2]


def processors(rendered: Any) -> list[dict[str, Any]]:
    return [d for d in rendered.of_kind("Deployment") if d["metadata"]["name"].startswith("mlp-faust-")]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def env(deployment: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container(deployment)["env"]}


def value(deployment: dict[str, Any], setting: str) -> str:
    return env(deployment)[f"MLP_STREAMING__{setting.upper()}"]["value"]


def test_one_deployment_per_declared_processor(platform, chart_values):
    declared = chart_values["mlplatform"]["faust"]["processors"]
    assert {d["metadata"]["name"] for d in processors(platform)} == {f"mlp-faust-{p['name']}" for p in declared}


def test_processors_run_the_streaming_entry_points(platform):
    scripts = tomllib.loads((ROOT / "streaming" / "pyproject.toml").read_text())["project"]["scripts"]
    commands = {container(d)["command"][0] for d in processors(platform)}
    assert commands == {"mlp-features", "mlp-scoring"}
    assert commands <= scripts.keys()
    for deployment in processors(platform):
        assert container(deployment)["args"] == ["worker"]


def test_every_variable_is_a_setting_the_processors_read(platform):
    known = component_settings("streaming", "mlstreaming.settings:StreamingSettings")
    for deployment in processors(platform):
        for name in env(deployment):
            assert name.startswith(known["prefix"]), name
            assert name.removeprefix(known["prefix"]).lower() in known["defaults"], f"{name} is read by no processor"


def test_processors_log_in_to_the_scram_listener_as_their_kafka_user(platform):
    users = {u["metadata"]["name"] for u in platform.of_kind("KafkaUser")}
    (kafka,) = platform.of_kind("Kafka")
    (connect,) = platform.of_kind("KafkaConnect")
    (listener,) = [
        entry for entry in kafka["spec"]["kafka"]["listeners"] if entry["authentication"]["type"] == "scram-sha-512"
    ]
    for deployment in processors(platform):
        assert value(deployment, "kafka_bootstrap") == connect["spec"]["bootstrapServers"]
        assert value(deployment, "kafka_bootstrap").endswith(f":{listener['port']}")
        protocol = "SASL_SSL" if listener["tls"] else "SASL_PLAINTEXT"
        assert value(deployment, "kafka_security_protocol") == protocol
        assert value(deployment, "kafka_sasl_mechanism") == "SCRAM-SHA-512"
        assert value(deployment, "kafka_username") in users
        password = env(deployment)["MLP_STREAMING__KAFKA_PASSWORD"]
        assert password["valueFrom"]["secretKeyRef"] == {"name": value(deployment, "kafka_username"), "key": "password"}


def test_topics_exist_with_the_partitions_the_processors_create(platform):
    topics = {t["metadata"]["name"]: t["spec"] for t in platform.of_kind("KafkaTopic")}
    for deployment in processors(platform):
        for setting in ("source_topic", "features_topic", "predictions_topic", "prediction_log_topic"):
            assert value(deployment, setting) in topics, setting
        assert int(value(deployment, "partitions")) == topics[value(deployment, "features_topic")]["partitions"]


def test_the_source_topic_is_the_cdc_connectors_topic(platform):
    cdc = yaml.safe_load((ROOT / "connectors" / "transactions-cdc.yaml").read_text())["config"]
    for deployment in processors(platform):
        assert value(deployment, "source_topic") == f"{cdc['topic.prefix']}.public.transactions"


def test_scoring_calls_the_models_stable_service_on_the_executor_port(platform, chart_values):
    (scoring,) = [d for d in processors(platform) if container(d)["command"] == ["mlp-scoring"]]
    namespace = chart_values["mlplatform"]["seldon"]["namespace"]
    service = platform.get("Service", "model-fraud-detector")
    assert service["metadata"]["namespace"] == namespace
    assert service["spec"]["selector"] == {"mlplatform.io/registered-model": "fraud-detector"}
    port = service["spec"]["ports"][0]["port"]
    assert value(scoring, "model_url") == f"http://model-fraud-detector.{namespace}.svc.cluster.local:{port}"
    assert value(scoring, "model_name") == "fraud-detector"


def test_scoring_splits_by_the_registry_and_calls_each_version_at_its_predictor(platform, chart_values):
    """The sticky champion/canary split reads MLflow's aliases; each version answers at the Service the promoter
    names for its predictor (seldon.io/svc-name), in the models namespace, on the executor's port."""
    (scoring,) = [d for d in processors(platform) if container(d)["command"] == ["mlp-scoring"]]
    mlflow = platform.get("Service", "mlp-mlflow")
    mlflow_ns, mlflow_port = mlflow["metadata"]["namespace"], mlflow["spec"]["ports"][0]["port"]
    assert value(scoring, "mlflow_url") == f"http://mlp-mlflow.{mlflow_ns}.svc:{mlflow_port}"
    namespace = chart_values["mlplatform"]["seldon"]["namespace"]
    port = platform.get("Service", "model-fraud-detector")["spec"]["ports"][0]["port"]
    template = value(scoring, "model_version_url")
    url = template.format(model_url=value(scoring, "model_url"), model="fraud-detector", version="7")
    # `<model>-v<version>`: the promoter's seldon.io/svc-name (pipelines/promoter/tests/test_rendering.py).
    host = f"fraud-detector-v7.{namespace}.svc.cluster.local"
    assert url == f"http://{host}:{port}/v2/models/fraud-detector/infer"


def test_settings_override_chart_defaults(render):
    rendered = render("faust.settings.partitions=12", "faust.processors[0].settings.log_level=debug")
    features = next(d for d in processors(rendered) if container(d)["command"] == ["mlp-features"])
    assert value(features, "partitions") == "12"
    assert value(features, "log_level") == "debug"


def test_metrics_port_is_scraped_by_the_pod_monitor(platform):
    monitor = platform.get("PodMonitor", "mlp-faust")
    for deployment in processors(platform):
        pod = deployment["spec"]["template"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
        assert monitor["spec"]["podMetricsEndpoints"][0]["port"] in ports
        assert str(ports["metrics"]) == value(deployment, "metrics_port")


def test_prod_processors_are_replicated_with_budgets(prod):
    for deployment in processors(prod):
        autoscaler = prod.get("HorizontalPodAutoscaler", deployment["metadata"]["name"])
        assert autoscaler["spec"]["minReplicas"] >= 2
        prod.get("PodDisruptionBudget", deployment["metadata"]["name"])


# -- autoscaling -------------------------------------------------------------------------------------------------

AUTOSCALED = "faust.autoscaling.enabled=true"


def autoscalers(rendered: Any) -> dict[str, dict[str, Any]]:
    return {h["spec"]["scaleTargetRef"]["name"]: h for h in rendered.of_kind("HorizontalPodAutoscaler")}


def input_setting(command: str) -> str:
    """The setting naming the topic an entry point consumes, read from its app (`source = app.topic(settings.X`)."""
    scripts = tomllib.loads((ROOT / "streaming" / "pyproject.toml").read_text())["project"]["scripts"]
    package = scripts[command].rpartition(".")[0].replace(".", "/")
    app = (ROOT / "streaming" / "src" / package / "app.py").read_text()
    (setting,) = re.findall(r"source = app\.topic\(settings\.(\w+)", app)
    return setting


def input_partitions(rendered: Any, deployment: dict[str, Any]) -> int:
    setting = input_setting(container(deployment)["command"][0])
    return int(rendered.get("KafkaTopic", value(deployment, setting))["spec"]["partitions"])


def test_each_processor_scales_on_cpu_within_its_input_partitions(prod, chart_values):
    """prod: an autoscaling/v2 HPA per processor, on its Deployment, from values; the Deployment leaves its
    replicas to it and requests the CPU its Utilization target is a share of."""
    declared = chart_values["values/prod.yaml"]["faust"]["autoscaling"]
    found = autoscalers(prod)
    assert set(found) == {d["metadata"]["name"] for d in processors(prod)}
    for deployment in processors(prod):
        hpa = found[deployment["metadata"]["name"]]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["metadata"]["namespace"] == deployment["metadata"]["namespace"]
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": deployment["metadata"]["name"],
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
            declared["minReplicas"],
            declared["maxReplicas"],
        )
        assert hpa["spec"]["metrics"] == [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": declared["targetCPUUtilizationPercentage"]},
                },
            }
        ]
        assert hpa["spec"]["maxReplicas"] <= input_partitions(prod, deployment)
        assert "replicas" not in deployment["spec"], "a fixed replica count would fight the autoscaler"
        assert container(deployment)["resources"]["requests"]["cpu"]


def test_without_autoscaling_processors_keep_their_replicas(dev, render):
    assert not dev.of_kind("HorizontalPodAutoscaler")
    for deployment in processors(dev):
        assert deployment["spec"]["replicas"] == 1
    rendered = render(AUTOSCALED, "faust.processors[1].autoscaling.enabled=false")
    scoring = next(d for d in processors(rendered) if container(d)["command"] == ["mlp-scoring"])
    assert set(autoscalers(rendered)) == {d["metadata"]["name"] for d in processors(rendered)} - {
        scoring["metadata"]["name"]
    }
    assert scoring["spec"]["replicas"] == 1


def test_a_processor_overrides_the_shared_autoscaling(render):
    rendered = render(
        AUTOSCALED,
        "faust.autoscaling.minReplicas=1",
        "faust.autoscaling.maxReplicas=3",
        "faust.processors[1].autoscaling.maxReplicas=2",
        "faust.processors[1].autoscaling.targetCPUUtilizationPercentage=50",
    )
    bounds = {
        name: (h["spec"]["minReplicas"], h["spec"]["maxReplicas"], h["spec"]["metrics"][0]["resource"]["target"])
        for name, h in autoscalers(rendered).items()
    }
    assert bounds == {
        "mlp-faust-features": (1, 3, {"type": "Utilization", "averageUtilization": 70}),
        "mlp-faust-scoring": (1, 2, {"type": "Utilization", "averageUtilization": 50}),
    }


def test_more_replicas_than_input_partitions_fail_the_render(render_failure, render):
    """The chart's default topics have 3 partitions: a fourth worker would idle, and the message says how to fix it."""
    error = render_failure(AUTOSCALED, "faust.autoscaling.maxReplicas=4")
    assert "faust processor features: autoscaling.maxReplicas 4 exceeds the 3 partitions of its input topic " in error
    assert "warehouse.public.transactions" in error
    assert "lower maxReplicas to at most 3" in error and "kafka.topicDefaults.partitions" in error
    # More partitions make room for more workers.
    widened = render(AUTOSCALED, "faust.autoscaling.maxReplicas=4", "kafka.topicDefaults.partitions=4")
    assert {h["spec"]["maxReplicas"] for h in autoscalers(widened).values()} == {4}


def test_a_topics_own_partitions_bound_its_consumer(render_failure, chart_values):
    """The features topic, which the scoring processor consumes, with 2 partitions of its own (the default is 3)."""
    kafka_topics = chart_values["mlplatform"]["kafka"]["topics"]
    assert input_setting("mlp-scoring") == "features_topic"
    # --set replaces a list the values files do not set: every topic is named again, only `features` changes.
    topics = [{"name": t["name"], "partitions": t.get("partitions")} for t in kafka_topics]
    topics = [{**t, "partitions": 2} if t["name"] == "features" else t for t in topics]
    sets = [f"kafka.topics[{i}].{k}={v}" for i, t in enumerate(topics) for k, v in t.items() if v is not None]
    error = render_failure(AUTOSCALED, *sets)
    expected = "faust processor scoring: autoscaling.maxReplicas 3 exceeds the 2 partitions of its input topic features"
    assert expected in error


def test_inverted_bounds_and_a_missing_cpu_request_fail_the_render(render_failure):
    error = render_failure(AUTOSCALED, "faust.autoscaling.minReplicas=3", "faust.autoscaling.maxReplicas=2")
    assert "autoscaling.maxReplicas 2 is below minReplicas 3" in error
    # No CPU to take a share of (the schema allows 0 as a quantity; --set cannot remove the key from a list item).
    error = render_failure(AUTOSCALED, "faust.processors[0].resources.requests.cpu=0", profile="dev")
    assert "faust processor features: autoscaling on CPU needs resources.requests.cpu" in error


def test_the_schema_refuses_a_cpu_target_above_100_percent(render_failure):
    error = render_failure("faust.autoscaling.targetCPUUtilizationPercentage=150")
    assert "values don't meet the specifications of the schema" in error
    assert "/faust/autoscaling/targetCPUUtilizationPercentage" in error
