"""Monitoring: monitors, alert rules and dashboards (templates/monitoring/, dashboards/)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DASHBOARDS = Path(__file__).resolve().parents[2] / "charts" / "mlplatform" / "dashboards"


def selectors(chart_values: dict) -> dict:
    return chart_values["mlplatform-prereqs"]["kube-prometheus-stack"]["prometheus"]["prometheusSpec"]


@pytest.mark.parametrize(
    ("kind", "selector"),
    [
        ("ServiceMonitor", "serviceMonitorSelector"),
        ("PodMonitor", "podMonitorSelector"),
        ("PrometheusRule", "ruleSelector"),
    ],
)
def test_prometheus_selects_the_platform_monitors(platform, chart_values, kind, selector):
    spec = selectors(chart_values)
    assert spec[f"{selector}NilUsesHelmValues"] is False
    wanted = spec[selector]["matchLabels"]
    namespace_selector = selector.replace("Selector", "NamespaceSelector")
    assert spec[namespace_selector] == {}, "monitors live in the platform namespace, not the stack's"
    objects = platform.of_kind(kind)
    assert objects
    for obj in objects:
        assert wanted.items() <= obj["metadata"]["labels"].items(), obj["metadata"]["name"]


def test_first_alert_rules_exist(platform):
    (rule,) = platform.of_kind("PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"MLflowDown", "KafkaConnectTaskFailed", "KafkaConsumerLagHigh"} <= set(alerts)
    service = platform.get("Service", "mlp-mlflow")["metadata"]["name"]
    assert f'job="{service}"' in alerts["MLflowDown"]["expr"]
    assert "kafka_consumergroup_lag" in alerts["KafkaConsumerLagHigh"]["expr"]
    assert "kafka_connect_worker_connector_failed_task_count" in alerts["KafkaConnectTaskFailed"]["expr"]


def test_connect_alert_metric_is_produced_by_the_jmx_rules(platform):
    rules = yaml.safe_load(platform.get("ConfigMap", "mlp-kafka-metrics")["data"]["connect-metrics-config.yml"])
    names = [r["name"] for r in rules["rules"]]
    assert "kafka_connect_worker_$2" in names, "failed_task_count comes from the per-connector worker rule"
    (cluster,) = platform.of_kind("Kafka")
    assert "kafkaExporter" in cluster["spec"], "consumer lag metrics come from Kafka Exporter"


def test_rules_pass_promtool(dev, tmp_path):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    (rule,) = dev.of_kind("PrometheusRule")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboards_are_loaded_from_the_dashboards_folder(platform, chart_values):
    sidecar = chart_values["mlplatform-prereqs"]["kube-prometheus-stack"]["grafana"]["sidecar"]["dashboards"]
    maps = [cm for cm in platform.of_kind("ConfigMap") if sidecar["label"] in cm["metadata"]["labels"]]
    files = sorted(p.name for p in DASHBOARDS.glob("*.json"))
    assert files and sorted(k for cm in maps for k in cm["data"]) == files
    assert all(cm["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"] == "1" for cm in maps)
    assert sidecar["searchNamespace"] == "ALL"


@pytest.mark.parametrize("path", sorted(DASHBOARDS.glob("*.json")), ids=lambda p: p.name)
def test_dashboards_are_real(path):
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] and dashboard["title"]
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(queries) >= 4 and all(q.strip() for q in queries)
