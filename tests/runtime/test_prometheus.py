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
    health: dict[str, str] = {}

    def all_up() -> bool:
        health.update(target_health(platform))
        return all(health.get(job) == "up" for job in expected)

    try:
        wait_for(all_up, 120, f"targets {sorted(expected)} to be up")
    except AssertionError as error:
        raise AssertionError(f"{error}; health by job: {health}") from None
