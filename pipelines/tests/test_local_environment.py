"""What local-mode steps inherit from the Airflow worker's environment."""

from __future__ import annotations

import pytest
from mlpipelines.local import child_environment


def test_steps_get_neither_airflows_settings_nor_an_inherited_experiment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://secret")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "7")
    monkeypatch.setenv("KEPT", "yes")
    env = child_environment({"MLFLOW_EXPERIMENT_NAME": "fraud-detection"}, venv="/opt/project")
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env
    assert "MLFLOW_EXPERIMENT_ID" not in env
    assert env["MLFLOW_EXPERIMENT_NAME"] == "fraud-detection" and env["KEPT"] == "yes"
    assert env["PATH"].startswith("/opt/project/bin") and env["VIRTUAL_ENV"] == "/opt/project"
