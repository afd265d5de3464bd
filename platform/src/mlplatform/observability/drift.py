"""Reference statistics of a model's features and the drift scores live traffic is compared with.

Training logs the reference as a JSON run artifact (`to_document`); its format is deliberately plain so any
training code can write it without this package:

    {"features": {"amount": {"mean": 52.1, "std": 30.4, "edges": [10.0, 25.0], "fractions": [0.2, 0.5, 0.3]}}}

`edges` are the ascending interior cut points of the bins (quantiles of the training data), `fractions` the
share of training rows in each of the len(edges) + 1 bins. Drift is reported as the population stability
index (PSI: < 0.1 stable, 0.1-0.2 moderate, > 0.2 significant) and as the shift of the mean in training
standard deviations.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Empty bins would make PSI infinite; both distributions are floored at this share.
EPSILON = 1e-4


@dataclass(frozen=True)
class FeatureReference:
    mean: float
    std: float
    edges: tuple[float, ...]
    fractions: tuple[float, ...]


@dataclass(frozen=True)
class ReferenceStats:
    features: dict[str, FeatureReference]
    #: "training" (a run artifact) or "baseline" (the version's first live predictions).
    source: str


def bucket_fractions(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    """Share of `values` in each of the len(edges) + 1 bins (a value on an edge goes to the upper bin)."""
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[bisect_right(edges, value)] += 1
    total = len(values) or 1
    return [count / total for count in counts]


def quantile_edges(values: Sequence[float], bins: int) -> tuple[float, ...]:
    """Interior cut points splitting `values` into about `bins` equally filled bins (duplicates removed)."""
    ordered = sorted(values)
    if not ordered:
        return ()
    cuts = {ordered[min(len(ordered) - 1, (i * len(ordered)) // bins)] for i in range(1, bins)}
    return tuple(sorted(cut for cut in cuts if cut > ordered[0]))


def describe(values: Sequence[float], bins: int = 10) -> FeatureReference:
    """The reference of one feature from its values."""
    count = len(values)
    mean = sum(values) / count if count else 0.0
    variance = sum((v - mean) ** 2 for v in values) / count if count else 0.0
    edges = quantile_edges(values, bins)
    return FeatureReference(mean, math.sqrt(variance), edges, tuple(bucket_fractions(values, edges)))


def reference_from_columns(columns: Mapping[str, Sequence[float]], source: str, bins: int = 10) -> ReferenceStats:
    return ReferenceStats({name: describe(values, bins) for name, values in columns.items() if values}, source)


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two bin-share vectors of equal length."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def mean_shift(reference: FeatureReference, values: Sequence[float]) -> float:
    """|live mean - training mean| in training standard deviations (in raw units when training's std is 0)."""
    if not values:
        return 0.0
    shift = abs(sum(values) / len(values) - reference.mean)
    return shift / reference.std if reference.std > 0 else shift


def to_document(stats: ReferenceStats) -> dict[str, Any]:
    return {
        "features": {
            name: {"mean": f.mean, "std": f.std, "edges": list(f.edges), "fractions": list(f.fractions)}
            for name, f in stats.features.items()
        }
    }


def from_document(document: Any, source: str = "training") -> ReferenceStats:
    """Parse the artifact; ValueError names what is wrong, so a bad artifact is reported, not guessed at."""
    if not isinstance(document, dict) or not isinstance(document.get("features"), dict):
        raise ValueError("reference statistics need a `features` object")
    features: dict[str, FeatureReference] = {}
    for name, raw in document["features"].items():
        try:
            edges = tuple(float(e) for e in raw.get("edges", []))
            fractions = tuple(float(f) for f in raw.get("fractions", []))
            reference = FeatureReference(float(raw["mean"]), float(raw["std"]), edges, fractions)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"feature {name!r}: {exc}") from None
        if len(fractions) != len(edges) + 1 or list(edges) != sorted(edges):
            raise ValueError(f"feature {name!r}: need ascending edges and len(edges) + 1 fractions")
        features[str(name)] = reference
    return ReferenceStats(features, source)
