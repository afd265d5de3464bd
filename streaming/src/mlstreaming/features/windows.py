"""Window aggregates (count, sum, mean, max of amount) kept in Faust windowed tables.

Each window's value remembers, per source partition, the offset of the last event it absorbed: after a crash
Faust replays events whose effect may already be in the table's changelog, and such replays are skipped, so
at-least-once delivery never double-counts a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Observation:
    """One transaction's contribution, with the input record it came from."""

    amount: float
    source_partition: int
    source_offset: int


def empty_aggregate() -> dict[str, Any]:
    """A window nothing has been added to (also the table default, so it must be JSON-serializable)."""
    return {"count": 0, "sum": 0.0, "max": None, "applied": {}}


def add_observation(aggregate: dict[str, Any], observation: Observation) -> dict[str, Any]:
    """The window after `observation`; unchanged when that input record was already counted."""
    applied = dict(aggregate.get("applied") or {})
    partition = str(observation.source_partition)
    if observation.source_offset <= applied.get(partition, -1):
        return aggregate
    applied[partition] = observation.source_offset
    current_max = aggregate.get("max")
    return {
        "count": aggregate.get("count", 0) + 1,
        "sum": aggregate.get("sum", 0.0) + observation.amount,
        "max": observation.amount if current_max is None else max(current_max, observation.amount),
        "applied": applied,
    }


def summarize(aggregate: dict[str, Any], start: float, size: float, step: float | None = None) -> dict[str, Any]:
    """Bounds and aggregates of one window as they appear in a feature vector."""
    count = aggregate.get("count", 0)
    total = aggregate.get("sum", 0.0)
    summary: dict[str, Any] = {
        "start": _iso(start),
        "end": _iso(start + size),
        "size_seconds": size,
        "count": count,
        "sum": round(total, 6),
        "mean": round(total / count, 6) if count else 0.0,
        "max": aggregate.get("max") if count else 0.0,
    }
    if step is not None:
        summary["step_seconds"] = step
    return summary


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()
