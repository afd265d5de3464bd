"""Helpers of the unit tests: a sink that records, and Debezium envelopes as JsonConverter writes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

BASE = datetime(2026, 1, 1, tzinfo=UTC)


class RecordingSink:
    """Keeps what a processor sends, per topic."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, Any, float | None]] = []

    async def send(self, topic: str, key: str | None, value: Any, timestamp: float | None = None) -> None:
        self.sent.append((topic, key, value, timestamp))

    def values(self, topic: str) -> list[Any]:
        return [value for name, _, value, _ in self.sent if name == topic]


def envelope(tx_id: int, account: str, amount: float, seconds: float, *, schema: bool = True, op: str = "c") -> bytes:
    """A Debezium change event of `transactions` as JsonConverter writes it."""
    row = {
        "id": tx_id,
        "account_id": account,
        "merchant": "shop",
        "category": "food",
        "amount": amount,
        "created_at": (BASE + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
        "is_fraud": None,
    }
    payload = {"before": None, "after": row, "op": op, "ts_ms": 1, "source": {"table": "transactions"}}
    return json.dumps(
        {"schema": {"type": "struct", "name": "envelope"}, "payload": payload} if schema else payload
    ).encode()
