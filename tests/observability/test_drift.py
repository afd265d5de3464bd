"""Drift statistics and prediction-log parsing, without services: the numbers the exporter publishes."""

from __future__ import annotations

import json
import random

import pytest
from mlplatform.observability.drift import from_document, psi, reference_from_columns, to_document
from mlplatform.observability.prediction_log import PredictionWindows, parse

RNG = random.Random(7)
TRAINING = [RNG.gauss(50, 10) for _ in range(2000)]


def record(amount: float, version: str = "1", prediction: object = 0.2) -> bytes:
    vector = {
        "id": "v1",
        "account_id": "a1",
        "transaction_id": 9,
        "amount": amount,
        "windows": {"tumbling": {"count": 3, "mean": amount}},
        "source": {"offset": 12, "partition": 0},
    }
    return json.dumps(
        {
            "model_name": "fraud",
            "model_version": version,
            "prediction": prediction,
            "request_id": "r",
            "features": vector,
        }
    ).encode()


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift() -> None:
    reference = reference_from_columns({"amount": TRAINING}, "training").features["amount"]
    windows = PredictionWindows(window=500, baseline_size=10)
    training = reference_from_columns({"amount": TRAINING}, "training")
    for _ in range(500):
        windows.add(parse(record(RNG.gauss(50, 10), version="1")))
        windows.add(parse(record(RNG.gauss(90, 10), version="2")))
    drift = {(d.version, d.feature): d for d in windows.drift({("fraud", "1"): training, ("fraud", "2"): training})}
    assert drift[("1", "amount")].psi < 0.1 and drift[("1", "amount")].mean_shift < 0.3
    assert drift[("2", "amount")].psi > 1.0 and drift[("2", "amount")].mean_shift == pytest.approx(4, abs=0.5)
    assert drift[("2", "amount")].reference == "training"
    assert len(reference.fractions) == len(reference.edges) + 1 and sum(reference.fractions) == pytest.approx(1)


def test_identifiers_are_not_features_and_nested_names_match_training_names() -> None:
    parsed = parse(record(10.0, prediction=[0.3, 0.7]))
    assert set(parsed.features) == {"amount", "windows_tumbling_count", "windows_tumbling_mean"}
    assert parsed.value == 0.7 and parsed.version == "1"
    windows = PredictionWindows(window=10, baseline_size=100)
    windows.add(parsed)
    reference = reference_from_columns({"tumbling_count": [3.0, 3.0, 4.0]}, "training")
    (drift,) = windows.drift({("fraud", "1"): reference})
    assert drift.feature == "tumbling_count"


def test_without_a_training_reference_the_first_predictions_are_the_baseline() -> None:
    windows = PredictionWindows(window=50, baseline_size=20)
    for i in range(19):
        windows.add(parse(record(float(i))))
    assert windows.drift({}) == []
    windows.add(parse(record(19.0)))
    assert {d.reference for d in windows.drift({})} == {"baseline"}


def test_reference_documents_round_trip_and_bad_ones_are_refused() -> None:
    stats = reference_from_columns({"amount": TRAINING}, "training")
    assert from_document(json.loads(json.dumps(to_document(stats)))) == stats
    with pytest.raises(ValueError, match="amount"):
        from_document({"features": {"amount": {"mean": 1, "std": 1, "edges": [1, 2], "fractions": [1]}}})
    with pytest.raises(ValueError):
        parse(b'{"prediction": 1}')


def test_psi_of_identical_shares_is_zero() -> None:
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0
