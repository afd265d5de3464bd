"""The chart's PrometheusRule is the rule files' groups, with MLflow's job named as its ServiceMonitor's."""

from __future__ import annotations

import yaml
from mlplatform.observability.paths import rule_files

from tests.charts.conftest import UMBRELLA, ChartRenderer


def test_chart_renders_every_rule_file() -> None:
    renderer = ChartRenderer()
    rendered = renderer.render(UMBRELLA, "dev")
    (rule,) = rendered.of_kind("PrometheusRule")
    expected = [
        group
        for path in rule_files()
        for group in yaml.safe_load(path.read_text().replace('job="mlflow"', 'job="mlp-mlflow"'))["groups"]
    ]
    assert rule["spec"]["groups"] == expected
    assert 'job="mlp-mlflow"' in next(r["expr"] for g in expected for r in g["rules"] if r.get("alert") == "MLflowDown")
    disabled = renderer.render(UMBRELLA, "dev", ("monitoring.rules.enabled=false",))
    assert not disabled.of_kind("PrometheusRule")
