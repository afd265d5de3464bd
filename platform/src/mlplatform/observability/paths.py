"""Where the chart keeps what both the cluster and the local Prometheus read: rule files and dashboards."""

from __future__ import annotations

from pathlib import Path

from mlplatform.tools import PROJECT_ROOT

CHART = PROJECT_ROOT / "charts" / "mlplatform"
RULES_DIR = CHART / "rules"
RULE_TESTS_DIR = RULES_DIR / "tests"
DASHBOARDS_DIR = CHART / "dashboards"
#: The local statsd_exporter's mapping: the series names of the Airflow chart's exporter.
STATSD_MAPPING = Path(__file__).with_name("statsd-mapping.yaml")


def rule_files() -> list[Path]:
    """Every rule file the chart turns into its PrometheusRule (one per area)."""
    return sorted(RULES_DIR.glob("*.yaml"))
