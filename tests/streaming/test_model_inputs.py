"""A V2 request that does not fit the model's signature gets a 400 naming the problem, from the real MLServer.

The platform's model server runs `mlp_mlserver.CheckedMLflowRuntime` (platform/runtimes/mlserver): MLServer's
own MLflow runtime answers such requests with a bare 500, which a client cannot tell from an outage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.streaming.mlserver import MLServer, model_columns, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLServer]:
    with serving(tmp_path_factory.mktemp("mlserver-inputs") / "mlserver", "fraud-inputs", "3") as server:
        yield server


def column(name: str, data: list[Any], datatype: str = "FP64") -> dict[str, Any]:
    return {"name": name, "shape": [len(data)], "datatype": datatype, "data": data}


def infer(server: MLServer, inputs: list[dict[str, Any]]) -> httpx.Response:
    body = {"id": "inputs-test", "parameters": {"content_type": "pd"}, "inputs": inputs}
    return httpx.post(f"{server.url}/v2/models/{server.name}/infer", json=body, timeout=30)


def good(rows: int = 2) -> list[dict[str, Any]]:
    return [column(name, [150.0 if name == "amount" else 1.0] * rows) for name in model_columns()]


def test_a_request_that_fits_is_answered(server: MLServer) -> None:
    response = infer(server, good())
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == [1, 1]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda inputs: [i for i in inputs if i["name"] != "amount"], "missing input(s): amount"),
        (lambda inputs: [*inputs, column("colour", [1.0, 2.0])], "unknown input(s): colour"),
        (
            lambda inputs: [column("amount", ["a", "b"], "BYTES"), *inputs[1:]],
            "mistyped input(s): amount is BYTES, expected double",
        ),
        (lambda inputs: [column("amount", [1.0]), *inputs[1:]], "inputs of different lengths: amount 1"),
    ],
    ids=["missing", "extra", "mistyped", "uneven"],
)
def test_a_request_that_does_not_fit_gets_a_400_naming_the_problem_and_the_signature(
    server: MLServer, change: Any, named: str
) -> None:
    response = infer(server, change(good()))

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert named in error
    assert f"model {server.name} version {server.version}" in error
    # The signature the client should send, every column with its type.
    assert all(f"{name} (double)" in error for name in model_columns()), error
    # The server is unharmed: the next good request is answered.
    assert infer(server, good()).status_code == 200
