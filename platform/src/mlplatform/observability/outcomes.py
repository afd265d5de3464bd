"""Online quality: each logged prediction joined with its outcome label, as the canary judge's precision and recall.

Labels arrive on the warehouse's change topic (Debezium's envelope of `transactions`, whose `is_fraud` is the
outcome) before or after the prediction of the same transaction lands in the prediction log (its
`transaction_id`). Whichever comes second completes the pair, which is counted once by model, version and
outcome (true_positive, false_positive, false_negative, true_negative). Both sides are kept in bounded,
oldest-first maps, so a label that never comes costs memory only until `kept` newer ones pushed it out.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from mlplatform.observability.prediction_log import Prediction

#: A score at or above this is a positive prediction (the classifiers log the positive class's probability or 0/1).
POSITIVE = 0.5
Count = Callable[[str, str, str], None]


def outcome(predicted: bool, actual: bool) -> str:
    if predicted:
        return "true_positive" if actual else "false_positive"
    return "false_negative" if actual else "true_negative"


def label_of(raw: bytes | None, field: str) -> tuple[str, bool] | None:
    """(transaction id, label) of a change event whose row has a known `field`; None for anything else."""
    if not raw:
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    envelope = document.get("payload", document) if "op" not in document else document
    row = envelope.get("after") if isinstance(envelope, dict) else None
    if not isinstance(row, dict) or row.get("id") is None or not isinstance(row.get(field), bool | int):
        return None
    return str(row["id"]), bool(row[field])


class Outcomes:
    """Thread-safe join of predictions and labels by transaction id; `count(model, version, outcome)` per pair."""

    def __init__(self, count: Count, kept: int) -> None:
        self.count = count
        self.kept = kept
        self._labels: OrderedDict[str, bool] = OrderedDict()
        self._waiting: OrderedDict[str, list[tuple[str, str, bool]]] = OrderedDict()
        self._lock = threading.Lock()

    def label(self, transaction: str, actual: bool) -> None:
        with self._lock:
            self._remember(self._labels, transaction, actual)
            for model, version, predicted in self._waiting.pop(transaction, []):
                self.count(model, version, outcome(predicted, actual))

    def prediction(self, prediction: Prediction) -> None:
        key = prediction.transaction
        if key is None or prediction.value is None:
            return
        scored = (prediction.model, prediction.version, prediction.value >= POSITIVE)
        with self._lock:
            if key in self._labels:
                self.count(scored[0], scored[1], outcome(scored[2], self._labels[key]))
            else:
                self._remember(self._waiting, key, [*self._waiting.get(key, []), scored])

    def _remember(self, kept: OrderedDict[str, Any], key: str, value: Any) -> None:
        kept[key] = value
        kept.move_to_end(key)
        while len(kept) > self.kept:
            kept.popitem(last=False)
