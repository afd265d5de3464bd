"""The V2 client, retries and circuit breaker against an in-process fake server, and the scoring agent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from helpers import RecordingSink
from mlstreaming.features.vector import MODEL_COLUMNS
from mlstreaming.metrics import ERRORS
from mlstreaming.scoring.app import build
from mlstreaming.scoring.breaker import CircuitOpen
from mlstreaming.scoring.client import ModelCallError, ModelRequestRejected, V2Client
from mlstreaming.scoring.routing import Split, SplitSource, bucket
from mlstreaming.scoring.scorer import Scorer, request_id
from mlstreaming.settings import StreamingSettings
from prometheus_client import REGISTRY


class FakeV2Server:
    """Answers like MLServer: echoes the id, predicts 1 when amount > 100; `failures` 503s come first."""

    def __init__(self, failures: int = 0, echo: Callable[[str], str] = lambda rid: rid) -> None:
        self.failures = failures
        self.echo = echo
        self.requests: list[dict[str, Any]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if self.failures:
            self.failures -= 1
            return httpx.Response(503, text="overloaded")
        amounts = next(i["data"] for i in body["inputs"] if i["name"] == "amount")
        outputs = [
            {
                "name": "output-1",
                "shape": [len(amounts), 1],
                "datatype": "INT64",
                "data": [int(a > 100) for a in amounts],
            }
        ]
        return httpx.Response(
            200, json={"id": self.echo(body["id"]), "model_name": "fraud", "model_version": "v3", "outputs": outputs}
        )

    def client(self) -> V2Client:
        return V2Client("http://model", "fraud", timeout=1.0, transport=httpx.MockTransport(self.handler))


def scorer_for(server: FakeV2Server, attempts: int = 3, threshold: int = 2, reset: float = 0.3) -> Scorer:
    return Scorer(
        server.client(),
        processor="test",
        attempts=attempts,
        backoff_seconds=0.01,
        breaker_threshold=threshold,
        breaker_reset_seconds=reset,
    )


def rows(*amounts: float) -> list[list[float]]:
    return [[amount] + [0.0] * (len(MODEL_COLUMNS) - 1) for amount in amounts]


async def test_the_client_sends_named_columns_and_reads_predictions_and_the_echoed_id() -> None:
    server = FakeV2Server()
    inference = await server.client().infer("req-1", MODEL_COLUMNS, rows(50.0, 150.0))
    assert (inference.request_id, inference.model_name, inference.model_version) == ("req-1", "fraud", "v3")
    assert inference.predictions == [0, 1]
    sent = server.requests[0]
    assert sent["id"] == "req-1" and sent["parameters"] == {"content_type": "pd"}
    assert [i["name"] for i in sent["inputs"]] == list(MODEL_COLUMNS)
    assert sent["inputs"][0] == {"name": "amount", "shape": [2], "datatype": "FP64", "data": [50.0, 150.0]}


async def test_a_response_for_another_request_is_rejected() -> None:
    server = FakeV2Server(echo=lambda rid: "someone-else")
    with pytest.raises(ModelRequestRejected) as caught:
        await server.client().infer("req-1", MODEL_COLUMNS, rows(1.0))
    assert caught.value.reason == "request_id_mismatch"


async def test_a_model_not_served_yet_is_an_outage_not_a_rejected_request() -> None:
    client = V2Client(
        "http://model", "fraud", timeout=1.0, transport=httpx.MockTransport(lambda r: httpx.Response(404))
    )
    with pytest.raises(ModelCallError) as caught:
        await client.infer("req-1", MODEL_COLUMNS, rows(1.0))
    assert not isinstance(caught.value, ModelRequestRejected)
    assert caught.value.reason == "model_not_served" and "'fraud'" in caught.value.detail


async def test_server_errors_are_retried_with_the_same_request_id() -> None:
    server = FakeV2Server(failures=2)
    inference = await scorer_for(server).score(["a", "b"], MODEL_COLUMNS, rows(1.0, 500.0))
    assert inference.predictions == [0, 1]
    assert len(server.requests) == 3
    assert {r["id"] for r in server.requests} == {request_id(["a", "b"])}


async def test_the_breaker_opens_after_failed_batches_and_closes_after_a_good_trial_call() -> None:
    server = FakeV2Server(failures=10**6)
    scorer = scorer_for(server, attempts=2, threshold=2, reset=0.3)
    before = ERRORS.labels("test", "circuit_open")._value.get()
    for _ in range(2):
        with pytest.raises(ModelCallError) as caught:
            await scorer.score(["x"], MODEL_COLUMNS, rows(1.0))
        assert caught.value.reason == "model_server_error"
    calls = len(server.requests)
    assert calls == 4 and scorer.breaker.is_open

    with pytest.raises(CircuitOpen):
        await scorer.score(["y"], MODEL_COLUMNS, rows(1.0))
    assert len(server.requests) == calls, "an open breaker must not call the server"
    assert ERRORS.labels("test", "circuit_open")._value.get() == before + 1

    server.failures = 0
    await asyncio.sleep(0.35)  # the breaker's reset time, not an assertion
    assert (await scorer.score(["z"], MODEL_COLUMNS, rows(200.0))).predictions == [1]
    assert not scorer.breaker.is_open


def vector(vid: str, amount: float) -> bytes:
    windows = {w: {"count": 1, "sum": amount, "mean": amount, "max": amount} for w in ("tumbling", "hopping")}
    return json.dumps(
        {"id": vid, "account_id": "a", "transaction_id": 1, "amount": amount, "windows": windows}
    ).encode()


async def test_the_agent_scores_batches_logs_them_and_dead_letters_what_it_cannot_score(
    settings: StreamingSettings,
) -> None:
    settings.batch_size, settings.batch_timeout_seconds = 3, 0.05
    sink, server = RecordingSink(), FakeV2Server()
    processor = build(settings, sink=sink, scorer=scorer_for(server))
    async with processor.score.test_context() as agent:
        for raw in (vector("v1", 10.0), b"not json", vector("v2", 300.0), b'{"id": "v3"}'):
            await agent.put(raw, key=b"a")
        await asyncio.wait_for(_until(lambda: len(sink.values("prediction-log")) == 2), timeout=10)

    predictions = sink.values("predictions")
    assert [(p["id"], p["prediction"], p["model_version"]) for p in predictions] == [
        ("v1", 0, "v3"),
        ("v2", 1, "v3"),
    ]
    log = sink.values("prediction-log")
    assert log[0]["request_id"] == server.requests[0]["id"] == request_id(["v1", "v2"])
    assert log[1]["features"]["amount"] == 300.0 and log[1]["model_name"] == "fraud"
    dead = sink.values("dead-letter")
    assert sorted(d["reason"] for d in dead) == ["invalid_feature_vector", "invalid_feature_vector"]


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.02)


def test_the_split_is_sticky_per_account_and_close_to_its_share() -> None:
    split = Split(champion="3", canary="4", canary_traffic=20)
    accounts = [f"acct-{i}" for i in range(5000)]
    chosen = [split.version_for(a) for a in accounts]
    assert chosen == [split.version_for(a) for a in accounts]  # the same account, the same version
    assert 0.17 < chosen.count("4") / len(accounts) < 0.23
    assert bucket("acct-1") == bucket("acct-1") and Split(champion="3").version_for("acct-1") == "3"
    assert Split().version_for("acct-1") is None  # nothing known: the server's default version


class VersionedServer(FakeV2Server):
    """Answers on each version's URL; versions in `broken` answer 500."""

    def __init__(self, broken: set[str]) -> None:
        super().__init__()
        self.broken = broken
        self.paths: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        version = request.url.path.split("/versions/")[1].split("/")[0] if "/versions/" in request.url.path else None
        if version in self.broken:
            return httpx.Response(500, text="model raised")
        response = super().handler(request)
        body = json.loads(response.content)
        return httpx.Response(200, json={**body, "model_version": version or "default"})


async def test_each_account_goes_to_its_version_and_a_failing_canary_falls_back_to_the_champion(
    settings: StreamingSettings,
) -> None:
    settings.batch_size, settings.batch_timeout_seconds = 40, 0.05
    sink, server = RecordingSink(), VersionedServer(broken={"4"})
    processor = build(settings, sink=sink, scorer=scorer_for(server))
    processor.split = SplitSource("http://mlflow.invalid", "fraud")
    processor.split.split = Split(champion="3", canary="4", canary_traffic=50)
    processor.split.read = True
    accounts = [f"acct-{i}" for i in range(40)]
    async with processor.score.test_context() as agent:
        for i, account in enumerate(accounts):
            raw = json.loads(vector(f"v{i}", 10.0 * i))
            await agent.put(json.dumps({**raw, "account_id": account}).encode(), key=account.encode())
        await asyncio.wait_for(_until(lambda: len(sink.values("prediction-log")) == 40), timeout=10)

    canary_accounts = {a for a in accounts if bucket(a) < 50}
    assert canary_accounts and len(canary_accounts) < 40
    # The canary was asked once for its accounts (no retries), failed, and the champion scored them: none lost.
    assert server.paths.count("/v2/models/fraud/versions/4/infer") >= 1
    assert {p["model_version"] for p in sink.values("predictions")} == {"3"}
    assert not sink.values("dead-letter")
    labels = {"processor": "test", "model": "fraud", "version": "4", "outcome": "model_server_error"}
    assert (REGISTRY.get_sample_value("mlp_stream_model_call_seconds_count", labels) or 0) >= 1
