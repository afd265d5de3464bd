"""Local mode end to end: a recipe's DAG, run by Airflow, trains the example against the real MLflow server.

`airflow dags test` runs the DAG in the pipelines environment with its own AIRFLOW_HOME (SQLite metadata),
a recipes folder with the recipe and its DAG file, and `MLP_PIPELINES__MODE=local`: the same DAG file as in
the cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient
from mlplatform.config import Settings
from mlplatform.credentials import Credentials
from mlplatform.observability.drift import from_document

from tests.pipelines.helpers import AIRFLOW, BASE_RECIPE, ROOT, generate, scratch_table, warehouse_env
from tests.runtime.helpers import unique

PROMOTER = ROOT / "pipelines" / "promoter" / ".venv" / "bin" / "mlp-promote"
FEATURES = [
    "amount",
    *(f"{window}_{aggregate}" for window in ("tumbling", "hopping") for aggregate in ("count", "sum", "mean", "max")),
]


def airflow(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(AIRFLOW), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"airflow {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return result


@pytest.fixture
def airflow_env(platform: Settings, credentials: Credentials, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "airflow"
    home.mkdir()
    return {
        **warehouse_env(platform, credentials),
        "PATH": f"{AIRFLOW.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "recipes"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "MLP_PIPELINES__MODE": "local",
        "MLP_PIPELINES__RECIPES_DIR": str(tmp_path / "recipes"),
        "MLP_PIPELINES__MLFLOW_TRACKING_URI": f"http://{platform.host}:{platform.mlflow.port}",
    }


# The first test of a session also waits for `mlp up` (minutes on a busy machine): a wider bound than pytest.ini's.
@pytest.mark.timeout(1200)
def test_dag_run_trains_and_logs_a_model(
    platform: Settings, credentials: Credentials, airflow_env: dict[str, str], tmp_path: Path
) -> None:
    table = scratch_table(credentials)
    generate(airflow_env, table, rows=3000, seed=11)
    name = unique("e2e").replace("_", "-")
    recipe = yaml.safe_load(BASE_RECIPE.read_text())
    recipe.update(
        name=name,
        experiment=name,
        model_name=name,
        parameters={**recipe["parameters"], "table": table, "max_iter": 60},
        data={**recipe["data"], "table": table, "min_rows": 1000},
        triggers={},
    )
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / f"{name}.yaml").write_text(yaml.safe_dump(recipe))
    (tmp_path / "recipes" / f"{name}.py").write_text((BASE_RECIPE.with_suffix(".py")).read_text())

    airflow(airflow_env, "db", "migrate", timeout=180)
    result = airflow(airflow_env, "dags", "test", name, timeout=360)
    assert "data-quality gate PASSED" in result.stdout + result.stderr

    tracking_uri = airflow_env["MLP_PIPELINES__MLFLOW_TRACKING_URI"]
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None, f"no experiment {name} in MLflow"
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.info.run_name.startswith(f"{name}-")
    assert {"roc_auc", "f1", "precision", "recall"} <= set(run.data.metrics)
    assert run.data.metrics["roc_auc"] > 0.9
    assert run.data.params["table"] == table and run.data.params["max_iter"] == "60"
    assert "password" not in " ".join(run.data.params.values()).lower()

    # Training's feature statistics, which the model exporter's drift reads with its own parser.
    reference = from_document(mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/reference/feature_stats.json"))
    assert set(reference.features) == set(FEATURES)
    assert all(abs(sum(f.fractions) - 1) < 1e-9 for f in reference.features.values())

    models = client.search_logged_models(experiment_ids=[experiment.experiment_id])
    assert [model.source_run_id for model in models] == [run.info.run_id]
    # Read as YAML: the platform env has MLflow's client but not numpy, which loading a Model needs.
    mlmodel = yaml.safe_load(
        Path(
            mlflow.artifacts.download_artifacts(f"{models[0].artifact_location}/MLmodel", dst_path=str(tmp_path))
        ).read_text()
    )
    assert "sklearn" in mlmodel["flavors"]
    inputs = json.loads(mlmodel["signature"]["inputs"])
    assert [column["name"] for column in inputs] == FEATURES
    assert {column["type"] for column in inputs} == {"double"}
    assert mlmodel["saved_input_example_info"]

    if PROMOTER.exists():
        version = client.get_model_version_by_alias(name, "champion")
        assert version.run_id == run.info.run_id
