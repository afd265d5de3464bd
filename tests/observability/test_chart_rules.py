"""The chart's PrometheusRule is the rule files' groups, with MLflow's job named as its ServiceMonitor makes it.

Prometheus Operator names a ServiceMonitor's job after the Service it selects (or that Service's `jobLabel`
label): the expected job comes from the rendered ServiceMonitor and Service, not from the template's own rule.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from mlplatform.observability.paths import rule_files

from tests.charts.conftest import UMBRELLA, ChartRenderer


def service_monitor_job(rendered: Any, component: str) -> str:
    """The job Prometheus Operator gives the targets of the ServiceMonitor that selects `component`'s Service."""
    services = rendered.of_kind("Service")
    for monitor in rendered.of_kind("ServiceMonitor"):
        selector = monitor["spec"]["selector"].get("matchLabels", {})
        for service in services:
            labels = service["metadata"].get("labels", {})
            if selector.items() <= labels.items() and labels.get("app.kubernetes.io/name") == component:
                job_label = monitor["spec"].get("jobLabel")
                return str(labels[job_label] if job_label else service["metadata"]["name"])
    raise AssertionError(f"no ServiceMonitor selects the {component} Service")


def test_chart_renders_every_rule_file() -> None:
    renderer = ChartRenderer()
    rendered = renderer.render(UMBRELLA, "dev")
    (rule,) = rendered.of_kind("PrometheusRule")
    job = service_monitor_job(rendered, "mlflow")
    assert job != "mlflow"  # the files' local job name: the chart must rename it
    groups = rule["spec"]["groups"]
    down = next(r for g in groups for r in g["rules"] if r.get("alert") == "MLflowDown")
    assert f'job="{job}"' in down["expr"], down["expr"]
    # Apart from that job, the groups are the files' own.
    files = [group for path in rule_files() for group in yaml.safe_load(path.read_text())["groups"]]
    renamed, local = (json.dumps(f'job="{name}"')[1:-1] for name in (job, "mlflow"))  # as escaped in JSON
    assert json.loads(json.dumps(groups).replace(renamed, local)) == files
    disabled = renderer.render(UMBRELLA, "dev", ("monitoring.rules.enabled=false",))
    assert not disabled.of_kind("PrometheusRule")
