"""The feature vector: what the feature processor emits and the scoring processor turns into model inputs."""

from __future__ import annotations

from typing import Any

from mlstreaming.envelope import Transaction

WINDOWS = ("tumbling", "hopping")
AGGREGATES = ("count", "sum", "mean", "max")
# The model's input columns, in order; a model served for scoring is trained on exactly these.
MODEL_COLUMNS = ("amount", *(f"{window}_{aggregate}" for window in WINDOWS for aggregate in AGGREGATES))


class InvalidVector(ValueError):
    """A `features` record the scoring processor cannot turn into model inputs."""


def feature_vector(
    transaction: Transaction, source: dict[str, Any], vector_id: str, windows: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": vector_id,
        "account_id": transaction.account_id,
        "transaction_id": transaction.id,
        "event_time": transaction.created_at.isoformat(),
        "amount": transaction.amount,
        "merchant": transaction.merchant,
        "category": transaction.category,
        "windows": windows,
        "source": source,
    }


def model_row(vector: Any) -> list[float]:
    """The vector's values in MODEL_COLUMNS order; InvalidVector when a field is missing or not a number."""
    if not isinstance(vector, dict) or not isinstance(vector.get("id"), str):
        raise InvalidVector("not a feature vector (no string `id`)")
    windows = vector.get("windows")
    if not isinstance(windows, dict):
        raise InvalidVector("`windows` is missing")
    row = [_number(vector.get("amount"), "amount")]
    for window in WINDOWS:
        values = windows.get(window)
        if not isinstance(values, dict):
            raise InvalidVector(f"window {window!r} is missing")
        row.extend(_number(values.get(aggregate), f"{window}.{aggregate}") for aggregate in AGGREGATES)
    return row


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidVector(f"{name} is not a number")
    return float(value)
