"""The retraining debounce: automatic triggers start one training at a time, and none within the cooldown.

The tracking server's answers are recorded ones (what MLflow's REST API returns for the experiment's newest
run), served over HTTP so `local.debounce` runs its real requests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlpipelines import local
from mlpipelines.factory import build_dag, build_drift_dag, drift_query
from mlpipelines.recipe import Recipe, RecipeError, load_recipe
from mlpipelines.settings import PipelineSettings

from tests.conftest import RECIPES


@pytest.fixture
def mlflow() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A tracking server whose experiment `fraud` has the runs the test puts in the list (newest first)."""
    runs: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if "experiment_name=fraud" in self.path:
                self._answer(200, {"experiment": {"experiment_id": "7", "name": "fraud"}})
            else:
                self._answer(404, {"error_code": "RESOURCE_DOES_NOT_EXIST"})

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert request["experiment_ids"] == ["7"] and request["order_by"] == ["attributes.start_time DESC"]
            self._answer(200, {"runs": runs[:1]} if runs else {})

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", runs
    server.shutdown()


def run(status: str, seconds_ago: float) -> dict[str, Any]:
    return {"info": {"run_id": "r", "status": status, "start_time": int((time.time() - seconds_ago) * 1000)}}


def test_automatic_triggers_wait_for_the_running_training_and_the_cooldown(
    mlflow: tuple[str, list[dict[str, Any]]],
) -> None:
    url, runs = mlflow
    assert "no training" in local.debounce(url, "fraud", 1800, "asset_triggered")
    assert "no training" in local.debounce(url, "unknown-experiment", 1800, "asset_triggered")
    runs[:] = [run("RUNNING", 30)]
    with pytest.raises(local.Skip, match="is running: one retraining at a time"):
        local.debounce(url, "fraud", 1800, "asset_triggered")
    runs[:] = [run("FINISHED", 600)]
    with pytest.raises(local.Skip, match=r"started 60\ds ago, within the cooldown of 1800s"):
        local.debounce(url, "fraud", 1800, "asset_triggered")
    runs[:] = [run("FAILED", 3600)]
    assert "started 3600s ago" in local.debounce(url, "fraud", 1800, "asset_triggered")


@pytest.mark.parametrize("run_type", ["manual", "scheduled", "DagRunType.MANUAL"])
def test_schedules_and_people_are_never_debounced(mlflow: tuple[str, list[dict[str, Any]]], run_type: str) -> None:
    url, runs = mlflow
    runs[:] = [run("RUNNING", 5)]
    kind = run_type.removeprefix("DagRunType.").lower()
    assert local.debounce(url, "fraud", 1800, run_type) == f"started by {kind}: trains whatever the cooldown"


def test_the_run_type_as_airflow_renders_it_is_understood(mlflow: tuple[str, list[dict[str, Any]]]) -> None:
    """`{{ dag_run.run_type }}` renders as the enum (`DagRunType.ASSET_TRIGGERED`), as seen in a real run."""
    url, runs = mlflow
    runs[:] = [run("RUNNING", 5)]
    with pytest.raises(local.Skip, match="one retraining at a time"):
        local.debounce(url, "fraud", 1800, "DagRunType.ASSET_TRIGGERED")


def test_a_persisting_drift_signal_starts_one_training_not_a_storm(mlflow: tuple[str, list[dict[str, Any]]]) -> None:
    """The drift watcher fires every few minutes while drift lasts; only the first firing trains."""
    url, runs = mlflow
    outcomes = []
    for minute in range(0, 60, 5):  # watcher runs, the drift persisting the whole hour
        try:
            local.debounce(url, "fraud", 1800, "asset_triggered")
            outcomes.append("train")
            runs[:] = [run("RUNNING", 0)]
        except local.Skip:
            outcomes.append("skip")
        if minute == 20:
            runs[:] = [run("FINISHED", 20 * 60)]  # the training took 20 minutes
    assert outcomes.count("train") == 1 and outcomes[0] == "train", outcomes


def test_the_drift_watcher_reads_the_champions_drift(cluster: PipelineSettings) -> None:
    recipe = load_recipe(RECIPES / "fraud-detection.yaml")
    dag = build_drift_dag(recipe, cluster)
    assert dag is not None and dag.dag_id == "fraud-detection-drift"
    (task,) = dag.tasks
    assert task.op_kwargs["query"] == drift_query("fraud-detector")
    assert 'alias="champion"' in task.op_kwargs["query"] and task.op_kwargs["threshold"] == 0.2
    assert [outlet.uri for outlet in task.outlets] == ["mlp://signals/fraud-detection"]
    debounce = build_dag(recipe, cluster).get_task("debounce")
    assert debounce.op_kwargs["cooldown"] == 1800 and debounce.op_kwargs["run_type"] == "{{ dag_run.run_type }}"


def test_cooldown_takes_durations_and_names_bad_ones(tmp_path: Path) -> None:
    raw = (RECIPES / "fraud-detection.yaml").read_text()
    base = yaml.safe_load(raw)
    assert Recipe.model_validate({**base, "triggers": {"cooldown": "6h"}}).triggers.cooldown == 21600
    (tmp_path / "fraud-detection.yaml").write_text(raw.replace("cooldown: 30m", "cooldown: soon"))
    with pytest.raises(RecipeError, match=r"triggers\.cooldown: must be seconds or a duration like 90s, 10m, 1h"):
        load_recipe(tmp_path / "fraud-detection.yaml")
