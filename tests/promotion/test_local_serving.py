"""The champion served locally by MLServer (V2 protocol): same answers as MLflow pyfunc, no gap on swap."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
from mlflow import MlflowClient

from tests.promotion.conftest import ModelServer
from tests.promotion.helpers import Worker, aliases, promote_best, unique

# No canary: this is the direct swap (canaries: test_canary_judge.py).
POLICY = json.dumps(
    {"metric": "accuracy", "canary_traffic": 0, "serving": {"max_batch_size": 8, "max_batch_time": 0.01}}
)


def v2_request(reference: dict[str, Any]) -> dict[str, Any]:
    columns = list(zip(*reference["rows"], strict=True))
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": name, "datatype": "FP64", "shape": [len(values), 1], "data": list(values)}
            for name, values in zip(reference["columns"], columns, strict=True)
        ],
    }


def infer(url: str, body: dict[str, Any]) -> tuple[str, list[Any]]:
    response = httpx.post(url, json=body, timeout=30)
    response.raise_for_status()
    payload = response.json()
    return payload.get("model_version"), payload["outputs"][0]["data"]


def test_served_champion_matches_pyfunc_and_swaps_without_failures(
    tracking_uri: str, worker: Worker, client: MlflowClient, model_server: ModelServer
) -> None:
    experiment, model = unique("serving"), unique("serving-model")
    worker.train(experiment, {"seed": 1, "metrics": {"accuracy": 0.8}})
    first = promote_best(
        tracking_uri,
        experiment,
        model,
        POLICY,
        "local",
        env=model_server.env(),
    )
    assert first.code == 0, first.stderr[-3000:]
    assert first.decision is not None and first.decision["serving"]["loaded"] is True
    url = first.decision["serving"]["infer_url"]

    reference_1 = worker.predict(f"models:/{model}/1")
    body = v2_request(reference_1)
    assert infer(url, body) == ("1", reference_1["predictions"])
    settings = json.loads((model_server.repository / model / "1" / "model-settings.json").read_text())
    assert (settings["max_batch_size"], settings["max_batch_time"]) == (8, 0.01)

    worker.train(experiment, {"seed": 2, "C": 0.05, "metrics": {"accuracy": 0.9}})

    failures: list[str] = []
    answers: list[str] = []
    stop = threading.Event()

    def caller() -> None:
        while not stop.is_set():
            try:
                answers.append(infer(url, body)[0])
            except (httpx.HTTPError, KeyError) as exc:
                failures.append(repr(exc))

    thread = threading.Thread(target=caller, daemon=True)
    thread.start()
    try:
        second = promote_best(
            tracking_uri,
            experiment,
            model,
            POLICY,
            "local",
            env=model_server.env(),
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and answers[-1:] != ["2"]:
            time.sleep(0.1)
        time.sleep(0.5)  # a few more calls after the swap
    finally:
        stop.set()
        thread.join(timeout=35)
    assert second.code == 0, second.stderr[-3000:]
    assert second.decision is not None and second.decision["decision"] == "promoted"
    assert aliases(client, model) == {"champion": "2"}
    assert not failures, failures[:5]
    assert "1" in answers and answers[-1] == "2", answers[-10:]

    reference_2 = worker.predict(f"models:/{model}/2")
    assert reference_2["predictions"] != reference_1["predictions"]  # the swap is visible in the answers
    assert infer(url, body) == ("2", reference_2["predictions"])
    assert not (model_server.repository / model / "1").exists()  # the old version is gone from the folder
