"""Airflow needs a home before it is imported: a throwaway one, so tests never touch a real installation."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="mlp-airflow-test-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

from mlpipelines.settings import REPO_ROOT, PipelineSettings

RECIPES = REPO_ROOT / "pipelines" / "recipes"


@pytest.fixture
def cluster() -> PipelineSettings:
    return PipelineSettings(mode="kubernetes", namespace="ml-team", service_account="mlp-pipelines")


@pytest.fixture
def local() -> PipelineSettings:
    return PipelineSettings(mode="local", mlflow_tracking_uri="http://127.0.0.1:5999")


@pytest.fixture
def recipe_dir(tmp_path: Path) -> Path:
    """A folder for recipes written by a test."""
    folder = tmp_path / "recipes"
    folder.mkdir()
    return folder
