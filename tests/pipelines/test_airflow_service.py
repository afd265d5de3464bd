"""Airflow as a local service: healthy, logged into, and showing the DAGs."""

from __future__ import annotations

import httpx
from mlplatform.config import Settings
from mlplatform.credentials import Credentials
from mlplatform.runtime.services.airflow import ADMIN_PASSWORD, Airflow

from tests.runtime.helpers import wait_for


def test_airflow_lists_recipe_dags(platform: Settings, credentials: Credentials) -> None:
    service = Airflow(platform)
    base = service.url(service.options.port)
    assert service.is_ready()
    token = httpx.post(
        f"{base}/auth/token",
        json={
            "username": service.options.admin_user,
            "password": credentials._stored(ADMIN_PASSWORD).get_secret_value(),
        },
        timeout=10,
    )
    assert token.status_code in (200, 201), token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def listed() -> set[str] | None:
        response = httpx.get(f"{base}/api/v2/dags", headers=headers, timeout=10)
        dag_ids = {dag["dag_id"] for dag in response.json().get("dags", [])}
        return dag_ids if "fraud-detection" in dag_ids else None

    dag_ids = wait_for(listed, timeout=120, what="the fraud-detection DAG in Airflow", interval=3)
    assert "fraud-detection-signal" in dag_ids
    errors = httpx.get(f"{base}/api/v2/importErrors", headers=headers, timeout=10).json()
    assert errors["total_entries"] == 0, errors
    unauthenticated = httpx.get(f"{base}/api/v2/dags", timeout=10)
    assert unauthenticated.status_code == 401
