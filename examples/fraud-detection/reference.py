"""Training's feature statistics, logged as `reference/feature_stats.json`: the platform's model exporter
compares served feature vectors (the prediction log) with them and reports drift (PSI and mean shift).

Format: {"features": {name: {"mean", "std", "edges", "fractions"}}}, where `edges` are ascending interior
quantile cut points and `fractions` the share of rows in each of the len(edges) + 1 bins (a value equal to
an edge falls in the bin above it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

ARTIFACT = "reference/feature_stats.json"


def feature_stats(features: pd.DataFrame, bins: int = 10) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in features.columns:
        values = features[name].to_numpy(dtype=float)
        if values.size == 0:
            continue
        quantiles = np.quantile(values, [i / bins for i in range(1, bins)], method="lower")
        edges = sorted({float(q) for q in quantiles if q > values.min()})
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        found[str(name)] = {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "edges": edges,
            "fractions": (counts / values.size).tolist(),
        }
    return {"features": found}
