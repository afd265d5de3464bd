"""The model management API (`models-api`, the promoter's `mlp-models-api`) and `mlp models`, on the platform.

Real: the tracking server, the promoter's local target and MLServer, Airflow's REST API, and the API process
`mlp up` started. Two models are served by the promoter as the pipelines do: one with a champion alone, one with
a canary beside its champion. The API must report what actually serves (each endpoint answers V2 with its
version), and its actions must change what serves.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mlflow import MlflowClient
from mlplatform.airflow_client import AirflowClient
from mlplatform.config import Settings
from mlplatform.credentials import Credentials
from mlplatform.demo import RECIPE
from mlplatform.isolation import free_ports
from mlplatform.polling import poll
from mlplatform.runtime.services.airflow import Airflow
from mlplatform.runtime.services.models_api import TOKEN, ModelsApi

from tests.conftest import run_mlp
from tests.promotion.conftest import ModelServer
from tests.promotion.helpers import PROMOTER, Worker, aliases, promote_best, unique
from tests.promotion.test_local_serving import infer, v2_request

CANARY = {"metric": "accuracy", "canary_traffic": 25}
DIRECT = {"metric": "accuracy", "canary_traffic": 0}


def api(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.models_api.port}"


def get(settings: Settings, path: str) -> Any:
    response = httpx.get(api(settings) + path, timeout=60, trust_env=False)
    assert response.status_code == 200, response.text
    return response.json()


def one_line(text: str) -> str:
    """The console wraps long errors: their words, one space apart."""
    return " ".join(text.split())


def secrets_of(settings: Settings) -> list[str]:
    credentials = Credentials(settings)
    return [
        credentials.minio_password().get_secret_value(),
        credentials.postgres_password().get_secret_value(),
        Airflow(settings).admin_password(),
    ]


@pytest.fixture(scope="module")
def served(platform: Settings, tracking_uri: str, worker: Worker, model_server: ModelServer) -> dict[str, Any]:
    """`alone`: champion version 1. `split`: champion 1 and a canary, version 2, at 25 percent."""
    alone, split = unique("mgmt-alone"), unique("mgmt-split")
    experiments = {alone: unique("mgmt"), split: unique("mgmt")}
    worker.train(experiments[alone], {"seed": 1, "metrics": {"accuracy": 0.8}})
    worker.train(experiments[split], {"seed": 1, "metrics": {"accuracy": 0.8}})
    for model in (alone, split):
        outcome = promote_best(
            tracking_uri, experiments[model], model, json.dumps(DIRECT), "local", env=model_server.env()
        )
        assert outcome.code == 0, outcome.stderr[-3000:]
    worker.train(experiments[split], {"seed": 2, "C": 0.05, "metrics": {"accuracy": 0.9}})
    outcome = promote_best(
        tracking_uri,
        experiments[split],
        split,
        json.dumps(CANARY),
        "local",
        "--compare",
        "live",
        env=model_server.env(),
    )
    assert outcome.code == 0 and outcome.decision and outcome.decision["decision"] == "canary", outcome.stderr[-3000:]
    return {"alone": alone, "split": split, "experiments": experiments}


def test_the_api_lists_every_model_with_what_serves_it(
    platform: Settings, worker: Worker, served: dict[str, Any]
) -> None:
    listed = {m["name"]: m for m in get(platform, "/models")}
    alone, split = listed[served["alone"]], listed[served["split"]]

    assert (alone["champion"], alone["canary"], alone["healthy"]) == ("1", None, True)
    assert [(s["version"], s["role"], s["traffic"], s["ready"]) for s in alone["served"]] == [
        ("1", "champion", 100, True)
    ]
    assert alone["last_decision"]["decision"] == "promoted" and alone["last_decision"]["reasons"]

    assert split["aliases"] == {"champion": "1", "challenger": "2"}
    assert [(s["version"], s["role"], s["traffic"], s["ready"]) for s in split["served"]] == [
        ("1", "champion", 75, True),
        ("2", "canary", 25, True),
    ]
    assert split["healthy"] is True
    assert split["last_decision"]["version"] == "2" and split["last_decision"]["decision"] == "canary"
    assert any("canary" in reason for reason in split["last_decision"]["reasons"])

    # Every endpoint the API gives answers V2 as the version it names, and links the model's own V2 page.
    for entry in split["served"]:
        reference = worker.predict(f"models:/{served['split']}/{entry['version']}")
        assert infer(entry["endpoint"], v2_request(reference)) == (entry["version"], reference["predictions"])
        assert httpx.get(entry["docs"], timeout=30, trust_env=False).status_code == 200, entry["docs"]

    detail = get(platform, f"/models/{served['split']}")
    assert [(v["version"], sorted(v["aliases"])) for v in detail["versions"]] == [
        ("1", ["champion"]),
        ("2", ["challenger"]),
    ]

    text = json.dumps([listed, detail])
    assert not [secret for secret in secrets_of(platform) if secret in text]


def test_the_openapi_document_is_generated_and_describes_every_action(platform: Settings) -> None:
    document = get(platform, "/openapi.json")
    assert {"/models", "/models/{name}", "/models/{name}/promote", "/models/{name}/finalize",
            "/models/{name}/rollback", "/models/{name}/retraining"} <= set(document["paths"])  # fmt: skip
    served = document["components"]["schemas"]["ServedVersion"]["properties"]
    assert {"endpoint", "docs", "traffic", "ready"} <= set(served)
    assert httpx.get(api(platform) + "/docs", timeout=30, trust_env=False).status_code == 200


def test_the_cli_shows_what_the_api_serves(platform: Settings, served: dict[str, Any]) -> None:
    from_cli = {m["name"]: m for m in json.loads(run_mlp("models", "list", "--json").stdout)}
    from_api = {m["name"]: m for m in get(platform, "/models")}
    for name in (served["alone"], served["split"]):
        assert from_cli[name] == from_api[name]
    wide = {**os.environ, "COLUMNS": "250"}
    table = run_mlp("models", "list", env=wide).stdout
    assert served["split"] in table and "v1 75%, v2 25%" in table
    shown = run_mlp("models", "show", served["split"], env=wide).stdout
    assert "canary" in shown and f"/v2/models/{served['split']}/versions/2/infer" in shown
    missing = run_mlp("models", "show", "no-such-model", check=False)
    assert missing.returncode == 1 and "no registered model 'no-such-model'" in one_line(missing.stderr)


def test_promote_rollback_and_finalize_change_what_serves(
    platform: Settings, worker: Worker, client: MlflowClient, served: dict[str, Any]
) -> None:
    name, experiment = served["split"], served["experiments"][served["split"]]
    rolled = json.loads(run_mlp("models", "rollback", name, "--reason", "operator test", "--json").stdout)
    assert rolled["decision"] == "rolled_back" and rolled["version"] == "2"
    after = get(platform, f"/models/{name}")
    assert (after["canary"], [(s["version"], s["traffic"]) for s in after["served"]]) == (None, [("1", 100)])
    assert after["last_decision"]["decision"] == "rolled_back"
    assert "rolled back: operator test" in after["last_decision"]["reasons"]

    worker.train(experiment, {"seed": 3, "C": 0.5, "metrics": {"accuracy": 0.95}})
    policy = json.dumps(CANARY)
    promoted = json.loads(
        run_mlp("models", "promote", name, "--experiment", experiment, "--policy", policy, "--compare", "live",
                "--json").stdout
    )  # fmt: skip
    assert promoted["decision"] == "canary" and promoted["version"] == "3"
    assert [(s["version"], s["traffic"]) for s in get(platform, f"/models/{name}")["served"]] == [("1", 75), ("3", 25)]

    finalized = json.loads(run_mlp("models", "finalize", name, "--json").stdout)
    assert finalized["decision"] == "finalized" and finalized["version"] == "3"
    assert aliases(client, name) == {"champion": "3"}
    final = get(platform, f"/models/{name}")
    assert [(s["version"], s["role"], s["traffic"], s["ready"]) for s in final["served"]] == [
        ("3", "champion", 100, True)
    ]

    bad = run_mlp("models", "promote", name, "--experiment", experiment, "--policy", '{"direction": "up"}', check=False)
    assert bad.returncode == 1 and "policy.metric must name the metric" in one_line(bad.stderr)


def test_pausing_retraining_pauses_every_dag_that_trains_the_model(
    platform: Settings, airflow_client: AirflowClient, served: dict[str, Any]
) -> None:
    """The recipe's model need not be registered: its DAGs exist (paused, in the test instance) before training."""
    dags = {f"{RECIPE}", f"{RECIPE}-drift", f"{RECIPE}-signal"}

    def paused() -> dict[str, bool]:
        found = (airflow_client.http.get(f"/dags/{dag}") for dag in [*dags, f"{RECIPE}-batch"])
        return {d["dag_id"]: d["is_paused"] for d in (r.json() for r in found if r.status_code == 200)}

    # Airflow lists a DAG once its processor parsed the recipe's file.
    poll(
        lambda: len(paused()) == len(dags) + 1,
        timeout=180,
        interval=5,
        error=lambda _: AssertionError(f"Airflow never listed {sorted(dags)} and the batch DAG: {paused()}"),
    )
    batch_paused = paused()[f"{RECIPE}-batch"]
    try:
        resumed = json.loads(run_mlp("models", "resume", "fraud-detector", "--json").stdout)
        assert {d["dag_id"]: d["paused"] for d in resumed["dags"]} == dict.fromkeys(dags, False)
    finally:
        result = json.loads(run_mlp("models", "pause", "fraud-detector", "--json").stdout)
    assert {d["dag_id"]: d["paused"] for d in result["dags"]} == dict.fromkeys(dags, True)
    # Airflow's own state, and batch prediction (not retraining) left as it was.
    assert paused() == {**dict.fromkeys(dags, True), f"{RECIPE}-batch": batch_paused}
    none = run_mlp("models", "pause", served["alone"], check=False)
    assert none.returncode == 1 and f"no Airflow DAG retrains '{served['alone']}'" in one_line(none.stderr)


@pytest.fixture
def guarded(platform: Settings) -> Iterator[dict[str, str]]:
    """A second API process that requires the platform's token, and the settings that make `mlp` use it."""
    (port,) = free_ports(1)
    env = {**os.environ, **ModelsApi(platform).environment(), "MLP_MODELS_API_PORT": str(port)}
    env["MLP_MODELS_API_TOKEN"] = Credentials(platform).generated(TOKEN).get_secret_value()
    process = subprocess.Popen([str(PROMOTER.with_name("mlp-models-api"))], env=env)
    url = f"http://{platform.host}:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        poll(up, timeout=60, interval=0.5, error=lambda _: AssertionError("the guarded API did not start"))
        yield {"url": url, "MLP_MODELS_API__PORT": str(port), "MLP_MODELS_API__REQUIRE_TOKEN": "true"}
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_token_can_be_required(platform: Settings, guarded: dict[str, str]) -> None:
    url = guarded.pop("url")
    refused = httpx.get(f"{url}/models", timeout=30, trust_env=False)
    assert refused.status_code == 401 and "Authorization: Bearer" in refused.json()["detail"]
    wrong = httpx.get(f"{url}/models", headers={"Authorization": "Bearer nope"}, timeout=30, trust_env=False)
    assert wrong.status_code == 401
    assert run_mlp("models", "list", "--json", env={**os.environ, **guarded}).returncode == 0
    assert "MLP_MODELS_API_TOKEN" in ModelsApi(platform.model_copy(update={
        "models_api": platform.models_api.model_copy(update={"require_token": True})})).environment()  # fmt: skip
    assert "MLP_MODELS_API_TOKEN" not in ModelsApi(platform).environment()
