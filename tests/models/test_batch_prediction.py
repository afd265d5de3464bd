"""Batch prediction (`mlp predict batch`) over files in the real MinIO, with a model from the real registry.

The model is tests/promotion/online_model.py in its `slow` mode (fraud when amount > 100, each call sleeps),
so a run lasts long enough to be killed between its parts; the rule gives every row's expected prediction.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow import MlflowClient
from mlplatform.airflow_client import AirflowClient
from mlplatform.config import Settings
from mlplatform.credentials import Credentials
from mlplatform.demo import RECIPE
from mlplatform.polling import poll
from mlplatform.predict import batch_environment
from mlplatform.runtime.services.minio import Minio

from tests.conftest import MLP, ROOT, run_mlp
from tests.promotion.helpers import MLSERVER_ENV, Worker, unique

FILES = Path(__file__).with_name("files.py")
BUCKET = "raw-data"
COLUMNS = ["amount", "hour"]
INPUTS = {"a.parquet": 5000, "b.parquet": 3500, "c.csv": 2000}
CHUNK = 500


def files(settings: Settings, command: str, request: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run(
        [str(MLSERVER_ENV / "bin" / "python"), str(FILES), command],
        input=json.dumps(request),
        env={**os.environ, **batch_environment(settings)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def register(client: MlflowClient, worker: Worker, model: str, config: dict[str, Any]) -> str:
    run = worker.train_online(unique("batch"), COLUMNS, {}, config)
    experiment = client.get_run(run).info.experiment_id
    (logged,) = client.search_logged_models([experiment], filter_string=f"source_run_id = '{run}'")
    source = f"models:/{logged.model_id}"
    return str(client.create_model_version(model, source, run_id=run, model_id=logged.model_id).version)


@pytest.fixture(scope="module")
def scored(platform: Settings, client: MlflowClient, worker: Worker) -> dict[str, Any]:
    """Input files in MinIO and a registered model whose champion is version 1 (slow enough to interrupt)."""
    model, prefix = unique("batch-model"), unique("batch")
    client.create_registered_model(model)
    slow = register(client, worker, model, {"mode": "slow", "delay": 0.25})
    client.set_registered_model_alias(model, "champion", slow)
    specs = [
        {"uri": f"s3://{BUCKET}/{prefix}/in/{name}", "rows": rows, "seed": i}
        for i, (name, rows) in enumerate(INPUTS.items())
    ]
    amounts = files(platform, "write", {"files": specs, "columns": COLUMNS})["amounts"]
    return {"model": model, "prefix": prefix, "version": slow, "amounts": amounts}


def test_a_killed_run_resumes_with_its_version_and_the_output_is_complete_without_duplicates(
    platform: Settings, client: MlflowClient, worker: Worker, scored: dict[str, Any], tmp_path: Path
) -> None:
    prefix, model = scored["prefix"], scored["model"]
    output = f"s3://{BUCKET}/{prefix}/out"
    args = [
        "predict", "batch", model,
        "--input", f"s3://{BUCKET}/{prefix}/in/*.parquet",
        "--input", f"s3://{BUCKET}/{prefix}/in/*.csv",
        "--output", output, "--chunk-rows", str(CHUNK),
    ]  # fmt: skip
    total_parts = sum(-(-rows // CHUNK) for rows in INPUTS.values())
    store = Minio(platform).client()

    def parts() -> list[str]:
        names = [o.object_name for o in store.list_objects(BUCKET, f"{prefix}/out/", recursive=True)]
        return [n for n in names if "/part-" in n]

    log = tmp_path / "killed-run.log"
    with log.open("w") as output_log:
        run = subprocess.Popen([MLP, *args], stderr=output_log, text=True, start_new_session=True)
    try:
        poll(
            lambda: len(parts()) >= 4 or run.poll() is not None,
            timeout=180,
            interval=0.2,
            error=lambda _: AssertionError(f"no 4 parts written in 180 s:\n{log.read_text()[-3000:]}"),
        )
        assert run.poll() is None, f"the run ended before it was killed:\n{log.read_text()[-3000:]}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
    killed_at = len(parts())
    assert 4 <= killed_at < total_parts, f"{killed_at} of {total_parts} parts at the kill: not mid-run"
    assert not any(o.object_name.endswith("_SUCCESS.json") for o in store.list_objects(BUCKET, f"{prefix}/out/"))

    # The champion moves on: the interrupted run still finishes with the version it started with.
    newer = register(client, worker, model, {"mode": "ok"})
    client.set_registered_model_alias(model, "champion", newer)

    resumed = run_mlp(*args)
    assert "resuming" in resumed.stderr, resumed.stderr
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["model_version"] == scored["version"] != newer
    assert summary["parts"] == total_parts
    assert summary["rows"] == sum(INPUTS.values())
    assert 0 < summary["rows_resumed"] < summary["rows"]
    assert summary["rows_scored"] + summary["rows_resumed"] == summary["rows"]

    found = files(platform, "check", {"output": output})
    assert "_SUCCESS.json" in found["files"] and "_batch.json" in found["files"]
    assert found["parts"] == total_parts
    assert found["rows"] == found["distinct_rows"] == found["distinct_request_ids"] == sum(INPUTS.values())
    assert found["versions"] == [scored["version"]]
    assert found["columns"][:5] == ["request_id", "model_name", "model_version", "source", "row"]
    for uri, amounts in scored["amounts"].items():
        assert found["rows_by_source"][uri] == list(range(len(amounts)))
        assert found["predictions"][uri] == [int(a > 100) for a in amounts], uri

    # Once more: nothing left to score, nothing written twice.
    again = json.loads(run_mlp(*args).stdout.strip().splitlines()[-1])
    assert (again["rows_scored"], again["rows_resumed"]) == (0, sum(INPUTS.values()))
    assert files(platform, "check", {"output": output})["rows"] == sum(INPUTS.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"input": "s3://{bucket}/{prefix}/in/*.json"}, "no object matches"),
        ({"input": "/tmp/{prefix}/*.parquet"}, "is not an object storage URI: write it as s3://BUCKET/PATH"),
        ({"alias": "nobody"}, "has no version with alias @nobody: promote one, or pass --version"),
    ],
    ids=["no-match", "not-s3", "unknown-alias"],
)
def test_bad_arguments_name_the_problem_and_the_fix(
    platform: Settings, scored: dict[str, Any], change: dict[str, str], message: str
) -> None:
    prefix, model = scored["prefix"], scored["model"]
    fill = {"bucket": BUCKET, "prefix": prefix, "model": model}
    result = run_mlp(
        "predict", "batch", model,
        "--input", change.get("input", "s3://{bucket}/{prefix}/in/*.csv").format(**fill),
        "--output", f"s3://{BUCKET}/{unique('out')}",
        "--alias", change.get("alias", "champion"),
        check=False,
    )  # fmt: skip
    assert result.returncode == 2, result
    assert message.format(**fill) in result.stderr
    assert Credentials(platform).minio_password().get_secret_value() not in result.stderr + result.stdout


def test_another_run_in_the_output_folder_is_refused_and_kept(platform: Settings, scored: dict[str, Any]) -> None:
    prefix, model = scored["prefix"], scored["model"]
    output = f"s3://{BUCKET}/{unique('out')}"
    args = ["predict", "batch", model, "--input", f"s3://{BUCKET}/{prefix}/in/c.csv", "--output", output]
    run_mlp(*args, "--chunk-rows", "1000")
    refused = run_mlp(*args, "--chunk-rows", "700", check=False)
    assert refused.returncode == 2, refused
    assert f"{output} holds a run of {model} over other inputs or another chunk size" in refused.stderr
    assert "choose a new --output, or delete that folder to start over" in refused.stderr
    assert files(platform, "check", {"output": output})["rows"] == INPUTS["c.csv"]
    # Predictions are never inputs, even where a glob reaches into the output folder.
    own = run_mlp("predict", "batch", model, "--input", f"{output}/*.parquet", "--output", output, check=False)
    assert own.returncode == 2 and "inside the output folder" in own.stderr, own.stderr


def test_the_recipes_batch_dag_scores_with_the_champion(
    platform: Settings, demo: Any, client: MlflowClient, airflow_client: AirflowClient
) -> None:
    """The fraud-detection recipe's `batch:` section, run by Airflow as its `-batch` DAG (a subprocess locally)."""
    champion = client.get_model_version_by_alias("fraud-detector", "champion").version
    signature = files(platform, "signature", {"model_uri": f"models:/fraud-detector/{champion}"})
    recipe = yaml.safe_load((ROOT / "pipelines" / "recipes" / f"{RECIPE}.yaml").read_text())["batch"]
    folder = recipe["input"][0].rsplit("/", 1)[0]
    files(platform, "write", {"files": [{"uri": f"{folder}/day-1.parquet", "rows": 1200, "seed": 7}],
                              **signature})  # fmt: skip
    dag = f"{RECIPE}-batch"
    run_id = airflow_client.trigger(dag)
    try:
        state = airflow_client.wait(dag, run_id, timeout=600)
    finally:
        airflow_client.set_paused(dag, paused=True)
    assert state == "success", airflow_client.log_tail(dag, run_id, "predict")
    day = next(r for r in airflow_client.runs(dag) if r["dag_run_id"] == run_id)["run_after"][:10]
    output = recipe["output"].replace("{{ dag_run.run_after | ds }}", day)
    found = files(platform, "check", {"output": output})
    assert "_SUCCESS.json" in found["files"]
    assert found["rows"] == found["distinct_request_ids"] == 1200
    assert found["versions"] == [str(champion)]
