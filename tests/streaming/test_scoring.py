"""The scoring processor against a real MLServer: predictions, the prediction log, and the circuit breaker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.helpers import wait_for
from tests.streaming.helpers import (
    Streams,
    TopicReader,
    create_topic,
    produce,
)
from tests.streaming.mlserver import THRESHOLD, MLServer, serving


def vector(vid: str, account: str, amount: float) -> bytes:
    # The model was trained with 1.0 in every window column: only the amount decides.
    window = {"count": 1, "sum": 1.0, "mean": 1.0, "max": 1.0}
    return json.dumps(
        {
            "id": vid,
            "account_id": account,
            "transaction_id": int(vid.rsplit("-", 1)[1]),
            "event_time": "2026-01-01T00:00:00+00:00",
            "amount": amount,
            "windows": {"tumbling": window, "hopping": window},
        }
    ).encode()


def score_with(streams: Streams, server: MLServer, **settings: str) -> None:
    """The scoring processor's settings: `server`'s model, and MLP_STREAMING__<NAME> for each of `settings`."""
    streams.extra.update({"MLP_STREAMING__MODEL_URL": server.url, "MLP_STREAMING__MODEL_NAME": server.name})
    streams.extra.update({f"MLP_STREAMING__{name.upper()}": value for name, value in settings.items()})


@pytest.fixture
def mlserver(tmp_path: Path) -> Iterator[MLServer]:
    with serving(tmp_path / "mlserver", "fraud-test", "v7") as server:
        yield server


def test_vectors_are_scored_logged_and_the_breaker_opens_when_the_model_goes_away(
    streams: Streams, mlserver: MLServer
) -> None:
    score_with(
        streams,
        mlserver,
        batch_size="4",
        batch_timeout_seconds="0.3",
        model_timeout_seconds="1",
        model_attempts="2",
        retry_backoff_seconds="0.05",
        breaker_failure_threshold="2",
        breaker_reset_seconds="60",
    )
    features_topic = streams.topic("features")
    create_topic(streams.settings, features_topic, 1)
    amounts = [5.0, 250.0, 60.0, 140.0, 180.0, 40.0, 20.0, 333.0, 12.0, 150.0]
    first = [(b"a", vector(f"v-{i}", f"acct-{i % 3}", a)) for i, a in enumerate(amounts)]
    produce(streams.settings, features_topic, [*first, (b"bad", b"{oops")])
    worker = streams.processor("scoring").start()

    predictions = TopicReader(streams.settings, streams.topic("predictions"))
    log = TopicReader(streams.settings, streams.topic("prediction-log"))
    dead = TopicReader(streams.settings, streams.topic("dead-letter"))
    try:
        predictions.wait(lambda v: len(v) >= len(amounts), 90, "predictions")
        log.wait(lambda v: len(v) >= len(amounts), 30, "prediction-log records")
        dead.wait(lambda v: len(v) >= 1, 30, "the malformed vector's dead letter")

        by_id = {p["id"]: p for p in predictions.values}
        assert {vid: by_id[vid]["prediction"] for vid in by_id} == {
            f"v-{i}": int(a > THRESHOLD) for i, a in enumerate(amounts)
        }
        assert {p["model_name"] for p in predictions.values} == {"fraud-test"}
        assert {p["model_version"] for p in predictions.values} == {"v7"}
        logged = {r["id"]: r for r in log.values}
        assert set(logged) == set(by_id)
        for vid, record in logged.items():
            assert record["features"]["id"] == vid
            assert record["prediction"] == by_id[vid]["prediction"]
            assert (record["model_name"], record["model_version"]) == (
                "fraud-test",
                "v7",
            )
            # The id sent with the V2 request, echoed by MLServer (a mismatch would be dead-lettered).
            assert record["request_id"] == by_id[vid]["request_id"]
            uuid.UUID(record["request_id"])
        assert len({r["request_id"] for r in log.values}) >= len(amounts) // 4
        assert dead.values[0]["reason"] == "invalid_feature_vector"
        # Latency by the version that answered: what compares a canary with its champion.
        calls = {"processor": "scoring", "model": "fraud-test", "outcome": "ok"}
        assert worker.metric("mlp_stream_model_call_seconds_count", **calls, version="v7")

        mlserver.stop()
        later = [(b"a", vector(f"v-{100 + i}", "acct-9", 500.0)) for i in range(12)]
        for record in later:  # one batch per record, so the breaker sees several failed calls
            produce(streams.settings, features_topic, [record])
            dead.poll()
        dead.wait(
            lambda v: len(v) >= 1 + len(later),
            90,
            "unscored vectors to be dead-lettered",
        )
        reasons = {d["reason"] for d in dead.values[1:]}
        assert "circuit_open" in reasons, reasons
        assert reasons <= {"circuit_open", "model_unreachable", "model_timeout"}
        assert {d["payload"]["id"] for d in dead.values[1:]} == {f"v-{100 + i}" for i in range(12)}
        wait_for(
            lambda: worker.metric("mlp_stream_circuit_breaker_open", processor="scoring") == 1.0,
            15,
            "the breaker gauge to show open",
        )
        assert worker.metric("mlp_stream_errors_total", processor="scoring", reason="circuit_open")
        assert worker.metric("mlp_stream_errors_total", processor="scoring", reason="model_unreachable")
        unanswered = {"processor": "scoring", "version": "none", "outcome": "model_unreachable"}
        assert worker.metric("mlp_stream_model_call_seconds_count", **unanswered)
        assert worker.alive, worker.log_tail()
    finally:
        predictions.close()
        log.close()
        dead.close()


@pytest.fixture
def wider_mlserver(tmp_path: Path) -> Iterator[MLServer]:
    """A model that also needs `merchant_risk`, a column the processor does not send."""
    with serving(tmp_path / "mlserver", "fraud-wider", "2", extra_columns=("merchant_risk",)) as server:
        yield server


def test_events_a_model_cannot_take_are_dead_lettered_with_the_reason_not_counted_as_an_outage(
    streams: Streams, wider_mlserver: MLServer
) -> None:
    """MLServer answers 400 naming the missing column, and every event goes to the dead-letter topic with that
    message; the breaker stays closed however many calls are refused."""
    server = wider_mlserver
    score_with(
        streams, server, batch_size="1", model_attempts="3", breaker_failure_threshold="2", breaker_reset_seconds="60"
    )
    features_topic = streams.topic("features")
    create_topic(streams.settings, features_topic, 1)
    sent = [(b"a", vector(f"w-{i}", f"acct-{i}", 10.0 * i)) for i in range(6)]
    produce(streams.settings, features_topic, sent)
    worker = streams.processor("scoring").start()
    dead = TopicReader(streams.settings, streams.topic("dead-letter"))
    try:
        dead.wait(lambda v: len(v) >= len(sent), 90, "every event the model refused to be dead-lettered")

        assert {d["payload"]["id"] for d in dead.values} == {f"w-{i}" for i in range(6)}
        assert {d["reason"] for d in dead.values} == {"model_request_rejected"}  # never circuit_open
        for record in dead.values:
            assert "HTTP 400" in record["detail"] and "missing input(s): merchant_risk" in record["detail"]
            assert "merchant_risk (double)" in record["detail"]
        assert worker.metric("mlp_stream_circuit_breaker_open", processor="scoring") == 0.0
        # Refused requests are not retried: one call per batch.
        refused = {"processor": "scoring", "model": server.name, "outcome": "model_request_rejected"}
        assert worker.metric("mlp_stream_model_call_seconds_count", **refused, version="none") == len(sent)
        assert worker.alive, worker.log_tail()
    finally:
        dead.close()
