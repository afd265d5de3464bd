"""Prometheus scrapes the platform's components; MLflow's target is up."""

from __future__ import annotations

from typing import Any

import httpx
from mlplatform.config import Settings

from tests.runtime.helpers import wait_for


def target_health(settings: Settings) -> dict[str, str]:
    url = f"http://{settings.host}:{settings.prometheus.port}/api/v1/targets"
    targets: list[dict[str, Any]] = httpx.get(url, timeout=5).json()["data"]["activeTargets"]
    return {t["labels"]["job"]: t["health"] for t in targets}


def test_mlflow_target_is_up(platform: Settings) -> None:
    wait_for(
        lambda: target_health(platform).get("mlflow") == "up",
        60,
        "Prometheus to report MLflow's target up",
    )


def test_every_component_with_metrics_is_scraped(platform: Settings) -> None:
    expected = {"prometheus", "mlflow", "minio", "kafka", "kafka-connect"}
    wait_for(
        lambda: all(target_health(platform).get(job) == "up" for job in expected),
        90,
        f"targets {sorted(expected)} to be up",
    )
