"""The chart's PrometheusRule is the rule files' groups, with MLflow's job named as its ServiceMonitor's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mlplatform.observability.paths import rule_files

from tests.charts.conftest import UMBRELLA, ChartRenderer, find_helm


def test_chart_renders_every_rule_file(tmp_path: Path) -> None:
    helm = find_helm()
    if not helm:
        pytest.skip("Helm is not installed: run `make setup` (or set HELM)")
    rendered = ChartRenderer(helm, tmp_path).render(UMBRELLA, "dev")
    (rule,) = rendered.of_kind("PrometheusRule")
    expected = [
        group
        for path in rule_files()
        for group in yaml.safe_load(path.read_text().replace('job="mlflow"', 'job="mlp-mlflow"'))["groups"]
    ]
    assert rule["spec"]["groups"] == expected
    assert 'job="mlp-mlflow"' in next(r["expr"] for g in expected for r in g["rules"] if r.get("alert") == "MLflowDown")
    disabled = ChartRenderer(helm, tmp_path / "off").render(UMBRELLA, "dev", ("monitoring.rules.enabled=false",))
    assert not disabled.of_kind("PrometheusRule")
