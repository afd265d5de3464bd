"""The local Prometheus loads the chart's rule files and evaluates every dashboard query without error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml
from mlplatform.config import Settings
from mlplatform.errors import PlatformError
from mlplatform.observability.panels import PanelQuery, evaluate, panel_queries, variable_queries
from mlplatform.observability.paths import rule_files
from mlplatform.runtime.services.prometheus import TARGETS, Prometheus

from tests.runtime.helpers import wait_for

QUERIES = [q for panel in panel_queries() for q in panel] + variable_queries()


def rule_groups(prometheus: str) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    return groups


def test_scrape_list_is_data_and_skips_undeclared_settings(settings: Settings) -> None:
    jobs = Prometheus(settings).scrape_targets()
    assert {"prometheus", "mlflow", "minio", "kafka", "kafka-connect"} <= set(jobs)
    for target in TARGETS:
        assert (target.job in jobs) == (target.port(settings) is not None)
    assert jobs["kafka"] == (settings.kafka.metrics_port, "/metrics")
    config = Prometheus(settings).config()
    assert config["rule_files"] == [str(p) for p in rule_files()]
    assert all(c["static_configs"][0]["labels"]["namespace"] == "mlp" for c in config["scrape_configs"])


def test_local_prometheus_loads_every_rule_file(prometheus_url: str) -> None:
    wanted = {g["name"] for path in rule_files() for g in yaml.safe_load(path.read_text())["groups"]}
    loaded = wait_for(lambda: rule_groups(prometheus_url), 30, "rule groups to load")
    assert {g["name"] for g in loaded} == wanted
    alerts = {r["name"] for g in loaded for r in g["rules"]}
    assert "MLflowDown" in alerts and "ModelFeatureDriftHigh" in alerts

    def evaluated() -> list[dict[str, Any]] | None:
        rules = [r for g in rule_groups(prometheus_url) for r in g["rules"]]
        return rules if all(r["health"] != "unknown" for r in rules) else None

    rules = wait_for(evaluated, 60, "every rule to be evaluated once")
    assert all(r["health"] == "ok" for r in rules), [
        (r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"
    ]


def test_targets_carry_the_namespace_label(prometheus_url: str) -> None:
    targets = wait_for(
        lambda: httpx.get(f"{prometheus_url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"],
        30,
        "Prometheus to discover its targets",
    )
    assert all(t["labels"].get("namespace") == "mlp" for t in targets)


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.id)
def test_dashboard_query_is_accepted_by_prometheus(prometheus_url: str, query: PanelQuery) -> None:
    evaluate(prometheus_url, query.expr)


def test_a_broken_query_is_reported(prometheus_url: str) -> None:
    with pytest.raises(PlatformError, match="bad_data"):
        evaluate(prometheus_url, 'sum by (model (rate(x{namespace=~"$namespace"}[$__rate_interval]))')
