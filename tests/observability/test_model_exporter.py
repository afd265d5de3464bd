"""The model-metrics exporter against the platform's real MLflow and Kafka: gauges, labels, values, drift."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer
from mlflow import MlflowClient
from mlplatform.config import Settings
from mlplatform.observability.drift import reference_from_columns, to_document

from tests.observability.exporter import Exporter, Samples, change_event
from tests.runtime.helpers import unique, wait_for


@pytest.fixture
def exporter(platform: Settings, tmp_path: Path) -> Iterator[Exporter]:
    current = Exporter(platform, tmp_path)
    try:
        yield current
    finally:
        current.stop()


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The value of the one sample of `name` whose labels include `labels`."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(found) <= 1, f"{len(found)} samples of {name} match {labels}"
    return found[0] if found else None


def register(client: MlflowClient, model: str, metrics: dict[str, float], reference: Path | None) -> str:
    experiment = client.create_experiment(unique("exporter-test"))
    run = client.create_run(experiment).info.run_id
    for key, metric in metrics.items():
        client.log_metric(run, key, metric)
    if reference:
        client.log_artifact(run, str(reference), "reference")
    client.set_terminated(run)
    return client.create_model_version(model, f"runs:/{run}/model", run_id=run).version


def test_champion_and_challenger_metrics_become_gauges(exporter: Exporter, tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=exporter.mlflow_url)
    model = unique("fraud")
    client.create_registered_model(model)
    stats = tmp_path / "feature_stats.json"
    rng = random.Random(3)
    stats.write_text(
        json.dumps(to_document(reference_from_columns({"amount": [rng.gauss(50, 10) for _ in range(500)]}, "training")))
    )
    v1 = register(client, model, {"auc": 0.91, "f1": 0.62}, stats)
    v2 = register(client, model, {"auc": 0.93, "f1": 0.60}, None)
    client.set_registered_model_alias(model, "champion", v1)
    client.set_registered_model_alias(model, "challenger", v2)

    samples = wait_for(
        lambda: (
            (s := exporter.samples())
            and value(s, "mlp_model_metric", model=model, alias="challenger", metric="f1")
            and s
        ),
        60,
        "the exporter to publish both aliases",
    )
    assert value(samples, "mlp_model_metric", model=model, alias="champion", version=v1, metric="auc") == 0.91
    assert value(samples, "mlp_model_metric", model=model, alias="champion", version=v1, metric="f1") == 0.62
    assert value(samples, "mlp_model_metric", model=model, alias="challenger", version=v2, metric="auc") == 0.93
    assert value(samples, "mlp_model_alias_info", model=model, alias="champion", version=v1) == 1
    assert value(samples, "mlp_model_exporter_registry_up") == 1

    # Promotion: the champion series moves to the new version, the old one and the challenger disappear.
    client.set_registered_model_alias(model, "champion", v2)
    client.delete_registered_model_alias(model, "challenger")

    def promoted() -> Samples | None:
        s = exporter.samples()
        moved = value(s, "mlp_model_alias_info", model=model, alias="champion", version=v2)
        gone = value(s, "mlp_model_alias_info", model=model, alias="challenger") is None
        return s if moved and gone else None

    samples = wait_for(promoted, 60, "the promotion to show")
    assert value(samples, "mlp_model_metric", model=model, alias="champion", version=v1, metric="auc") is None
    assert value(samples, "mlp_model_metric", model=model, alias="challenger", metric="auc") is None


def test_prediction_log_gives_distribution_and_drift(exporter: Exporter, tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=exporter.mlflow_url)
    model = unique("fraud")
    client.create_registered_model(model)
    rng = random.Random(5)
    stats = tmp_path / "feature_stats.json"
    stats.write_text(
        json.dumps(to_document(reference_from_columns({"amount": [rng.gauss(50, 10) for _ in range(500)]}, "training")))
    )
    version = register(client, model, {"auc": 0.9}, stats)
    client.set_registered_model_alias(model, "champion", version)

    producer = KafkaProducer(bootstrap_servers=exporter.bootstrap, value_serializer=lambda v: json.dumps(v).encode())
    for i in range(40):
        features = {"id": f"v{i}", "amount": rng.gauss(500, 10), "windows": {"tumbling": {"count": 1}}}
        for model_version, prediction in ((version, 0.9), ("unregistered", [0.8, 0.2])):
            producer.send(
                exporter.topic,
                {
                    "model_name": model,
                    "model_version": model_version,
                    "prediction": prediction,
                    "request_id": f"r{i}",
                    "features": features,
                },
            )
    producer.send(exporter.topic, {"not": "a prediction"})
    producer.flush(timeout=30)
    producer.close()

    def drifted() -> dict | None:
        s = exporter.samples()
        psi = value(
            s, "mlp_model_feature_drift_psi", model=model, version=version, feature="amount", reference="training"
        )
        return (
            s
            if psi is not None and value(s, "mlp_model_prediction_count", model=model, version=version) == 40
            else None
        )

    samples = wait_for(drifted, 90, "drift of the registered version against its training reference")
    psi = value(
        samples, "mlp_model_feature_drift_psi", model=model, version=version, feature="amount", reference="training"
    )
    assert psi is not None and psi > 0.2, psi
    shift = value(samples, "mlp_model_feature_mean_shift", model=model, version=version, feature="amount")
    assert shift is not None and 35 < shift < 55, shift
    assert value(samples, "mlp_model_prediction_bucket", model=model, version=version, le="0.95") == 40
    assert value(samples, "mlp_model_prediction_bucket", model=model, version=version, le="0.8") == 0
    assert value(samples, "mlp_model_prediction_mean", model=model, version=version) == pytest.approx(0.9)
    # A version the registry does not know is compared with its own first predictions.
    baseline = value(samples, "mlp_model_feature_drift_psi", model=model, version="unregistered", feature="amount")
    assert baseline is not None
    assert (
        "mlp_model_feature_drift_psi",
        frozenset({("model", model), ("version", "unregistered"), ("feature", "amount"), ("reference", "baseline")}),
    ) in samples
    assert value(samples, "mlp_model_prediction_mean", model=model, version="unregistered") == pytest.approx(0.2)
    assert value(samples, "mlp_model_exporter_records_total", outcome="invalid") == 1


def test_predictions_meet_their_outcome_labels(exporter: Exporter) -> None:
    """Labels before or after the prediction of the same transaction: each pair counted once by outcome."""
    model = unique("quality")
    producer = KafkaProducer(bootstrap_servers=exporter.bootstrap, value_serializer=lambda v: json.dumps(v).encode())

    def predict(transaction: int, score: float) -> None:
        record = {"model_name": model, "model_version": "4", "prediction": score, "transaction_id": transaction}
        producer.send(exporter.topic, {**record, "request_id": "r", "features": {"amount": 10.0}})

    predict(1, 0.9)  # then labelled fraud: a true positive
    producer.send(exporter.labels_topic, change_event(2, False))  # labelled first, then flagged: a false positive
    predict(2, 0.8)
    predict(3, [0.9, 0.1])  # probabilities: the positive class's is the last; then fraud: a false negative
    producer.send(exporter.labels_topic, change_event(4, False))
    predict(4, 0.2)  # a true negative
    producer.send(exporter.labels_topic, change_event(5, None))  # no label yet: nothing to count
    predict(5, 0.7)
    producer.send(exporter.labels_topic, change_event(6, True))  # a label without a prediction: nothing either
    producer.flush(timeout=30)
    producer.send(exporter.labels_topic, change_event(1, True))
    producer.send(exporter.labels_topic, change_event(3, True))
    producer.flush(timeout=30)
    producer.close()

    def counted() -> Samples | None:
        s = exporter.samples()
        found = [value(s, "mlp_model_outcomes_total", model=model, outcome=kind) for kind in KINDS]
        return s if all(v == 1 for v in found) else None

    samples = wait_for(counted, 60, "every labelled prediction to be counted")
    total = sum(
        v for (name, labels), v in samples.items() if name == "mlp_model_outcomes_total" and ("model", model) in labels
    )
    assert total == 4
    assert value(samples, "mlp_model_outcomes_total", model=model, version="4", outcome="true_positive") == 1


KINDS = ("true_positive", "false_positive", "false_negative", "true_negative")
