"""The model's features, computed from raw transactions exactly as the streaming feature processor does.

Per transaction, for its account, over two event-time windows (Faust semantics):
  - tumbling: the current window of `tumbling_seconds` ([floor(t / size) * size, + size));
  - hopping: the earliest window of `hopping_seconds` (sliding by `hopping_step_seconds`) containing t,
    i.e. the one covering the most history, starting at floor(t / step) * step - size + step;
each window aggregating the account's transactions up to and including this one: count, sum, mean, max of
amount. With `amount` itself these are FEATURE_COLUMNS, in the order the scoring processor sends them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

WINDOWS = ("tumbling", "hopping")
AGGREGATES = ("count", "sum", "mean", "max")
FEATURE_COLUMNS = ["amount", *(f"{window}_{aggregate}" for window in WINDOWS for aggregate in AGGREGATES)]


def tumbling_start(t: float, size: float) -> float:
    return math.floor(t / size) * size


def hopping_earliest_start(t: float, size: float, step: float) -> float:
    return math.floor(t / step) * step - size + step


def build_features(
    transactions: pd.DataFrame, tumbling_seconds: float, hopping_seconds: float, hopping_step_seconds: float
) -> pd.DataFrame:
    """FEATURE_COLUMNS (all float64) for `transactions` (account_id, amount, created_at, id), same index."""
    frame = transactions.assign(
        _t=pd.to_datetime(transactions["created_at"], utc=True).astype("int64") / 1e9,
        amount=transactions["amount"].astype("float64"),
    ).sort_values(["account_id", "_t", "id"], kind="stable")
    out = np.zeros((len(frame), len(FEATURE_COLUMNS)), dtype="float64")
    out[:, 0] = frame["amount"].to_numpy()
    position = 0
    for _, group in frame.groupby("account_id", sort=False):
        times, amounts = group["_t"].to_numpy(), group["amount"].to_numpy()
        starts = {
            "tumbling": [tumbling_start(t, tumbling_seconds) for t in times],
            "hopping": [hopping_earliest_start(t, hopping_seconds, hopping_step_seconds) for t in times],
        }
        for w, window in enumerate(WINDOWS):
            first = np.searchsorted(times, starts[window], side="left")
            for i in range(len(times)):
                values = amounts[first[i] : i + 1]
                column = 1 + w * len(AGGREGATES)
                out[position + i, column : column + 4] = (len(values), values.sum(), values.mean(), values.max())
        position += len(group)
    features = pd.DataFrame(out, columns=FEATURE_COLUMNS, index=frame.index)
    return features.loc[transactions.index]
