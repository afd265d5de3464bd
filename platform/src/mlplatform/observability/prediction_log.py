"""Windows of the latest predictions per model version, fed from the `prediction-log` topic.

A record (written by the scoring processor, streaming/src/mlstreaming/scoring/app.py) is a JSON object with
`model_name`, `model_version`, `prediction`, `request_id` and `features`, the feature vector as the model saw it
(nested: `{"amount": 12.0, "windows": {"tumbling": {"count": 3, ...}}}`). Nested numbers are flattened with
`_` (`windows_tumbling_count`); a training reference named `tumbling_count` matches it by suffix.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mlplatform.observability.drift import ReferenceStats, bucket_fractions, mean_shift, psi, reference_from_columns

# `_`-separated name parts that identify a record instead of describing it (account_id, source_offset…).
IDENTIFIER_PARTS = frozenset({"id", "source", "offset", "partition"})

VersionKey = tuple[str, str]


def flatten(value: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested objects, keyed by their `_`-joined path (booleans and text are skipped)."""
    if isinstance(value, dict):
        found: dict[str, float] = {}
        for key, item in value.items():
            found.update(flatten(item, f"{prefix}_{key}" if prefix else str(key)))
        return found
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {prefix: float(value)}
    return {}


def prediction_value(prediction: Any) -> float | None:
    """A number to chart: the value itself, or the last entry of a list (the positive class's probability)."""
    if isinstance(prediction, list) and prediction:
        prediction = prediction[-1]
    if isinstance(prediction, bool):
        return float(prediction)
    if isinstance(prediction, int | float):
        return float(prediction)
    return None


@dataclass(frozen=True)
class Prediction:
    model: str
    version: str
    value: float | None
    features: dict[str, float]
    #: The scored transaction, which outcome labels name (outcomes.py).
    transaction: str | None = None


def parse(raw: bytes | None) -> Prediction:
    """One log record; ValueError when it is not one."""
    if not raw:
        raise ValueError("empty record")
    record = json.loads(raw)
    if not isinstance(record, dict) or not isinstance(record.get("model_name"), str):
        raise ValueError("no model_name")
    features = {
        name: value
        for name, value in flatten(record.get("features") or {}).items()
        if not IDENTIFIER_PARTS.intersection(name.split("_"))
    }
    version = record.get("model_version")
    return Prediction(
        record["model_name"],
        str(version) if version is not None else "unknown",
        prediction_value(record.get("prediction")),
        features,
        str(record["transaction_id"]) if record.get("transaction_id") is not None else None,
    )


@dataclass(frozen=True)
class Drift:
    model: str
    version: str
    feature: str
    reference: str
    psi: float
    mean_shift: float


@dataclass(frozen=True)
class WindowSummary:
    model: str
    version: str
    size: int
    prediction_mean: float | None


class _VersionWindow:
    def __init__(self, window: int) -> None:
        self.window = window
        self.features: dict[str, deque[float]] = {}
        self.predictions: deque[float] = deque(maxlen=window)
        self.size = 0
        self.baseline_rows: list[dict[str, float]] = []
        self.baseline: ReferenceStats | None = None

    def add(self, prediction: Prediction, baseline_size: int) -> None:
        self.size = min(self.size + 1, self.window)
        if prediction.value is not None:
            self.predictions.append(prediction.value)
        for name, value in prediction.features.items():
            self.features.setdefault(name, deque(maxlen=self.window)).append(value)
        if self.baseline is None:
            self.baseline_rows.append(prediction.features)
            if len(self.baseline_rows) >= baseline_size:
                columns: dict[str, list[float]] = {}
                for row in self.baseline_rows:
                    for name, value in row.items():
                        columns.setdefault(name, []).append(value)
                self.baseline = reference_from_columns(columns, source="baseline")
                self.baseline_rows = []


class PredictionWindows:
    """Thread-safe: the consumer thread adds, the scrape reads."""

    def __init__(self, window: int, baseline_size: int) -> None:
        self.window = window
        self.baseline_size = baseline_size
        self._versions: dict[VersionKey, _VersionWindow] = {}
        self._lock = threading.Lock()

    def add(self, prediction: Prediction) -> None:
        with self._lock:
            key = (prediction.model, prediction.version)
            self._versions.setdefault(key, _VersionWindow(self.window)).add(prediction, self.baseline_size)

    def keys(self) -> list[VersionKey]:
        with self._lock:
            return list(self._versions)

    def summaries(self) -> list[WindowSummary]:
        with self._lock:
            return [
                WindowSummary(
                    model, version, w.size, sum(w.predictions) / len(w.predictions) if w.predictions else None
                )
                for (model, version), w in self._versions.items()
            ]

    def drift(self, references: dict[VersionKey, ReferenceStats | None]) -> list[Drift]:
        """Per feature of each version: training's reference when logged, else the version's own baseline."""
        found: list[Drift] = []
        with self._lock:
            for (model, version), w in self._versions.items():
                reference = references.get((model, version)) or w.baseline
                if reference is None:
                    continue
                for name, ref in reference.features.items():
                    values = _match(w.features, name)
                    if values:
                        score = psi(ref.fractions, bucket_fractions(values, ref.edges))
                        found.append(Drift(model, version, name, reference.source, score, mean_shift(ref, values)))
        return found


def _match(features: dict[str, deque[float]], name: str) -> list[float]:
    if name in features:
        return list(features[name])
    suffixed: Iterable[str] = [key for key in features if key.endswith(f"_{name}")]
    matches = list(suffixed)
    return list(features[matches[0]]) if len(matches) == 1 else []
