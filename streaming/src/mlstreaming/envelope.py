"""Parsing Debezium change events of `public.transactions` into transactions, or a reason they are unusable.

Debezium's JsonConverter writes `{"schema": ..., "payload": envelope}` when schemas are enabled and the bare
envelope otherwise; both are accepted. Amounts must be doubles (`decimal.handling.mode=double`) and
`created_at` an ISO-8601 string (ZonedTimestamp) or epoch milli/microseconds.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

NEW_ROW_OPS = {"c": "create", "r": "snapshot read"}
KNOWN_OPS = {"c", "r", "u", "d", "t", "m"}


class InvalidEvent(Exception):
    """An input that cannot become a transaction; `reason` is a short stable code for metrics and dead letters."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Transaction:
    """One new row of `transactions`, as the features are computed from it."""

    id: int
    account_id: str
    merchant: str | None
    category: str | None
    amount: float
    created_at: datetime
    op: str

    @property
    def event_time(self) -> float:
        return self.created_at.timestamp()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transaction:
        return cls(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})


def parse_transaction(raw: bytes | None) -> Transaction:
    """The transaction a change event inserts; InvalidEvent for anything else (never another exception)."""
    if not raw:
        raise InvalidEvent("tombstone", "empty record value (Debezium writes one after each delete)")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent("malformed_json", f"value is not JSON: {exc.__class__.__name__}") from None
    envelope = _unwrap(document)
    op = envelope.get("op")
    if op not in KNOWN_OPS:
        raise InvalidEvent("invalid_envelope", f"unknown or missing op {op!r}")
    if op not in NEW_ROW_OPS:
        raise InvalidEvent("unsupported_op", f"op {op!r} does not create a transaction")
    row = envelope.get("after")
    if not isinstance(row, dict):
        raise InvalidEvent("invalid_envelope", "op creates a row but `after` is not an object")
    return Transaction(
        id=_integer(row, "id"),
        account_id=_text(row, "account_id"),
        merchant=_optional_text(row, "merchant"),
        category=_optional_text(row, "category"),
        amount=_amount(row),
        created_at=_timestamp(row),
        op=op,
    )


def _unwrap(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidEvent("invalid_envelope", f"value is a JSON {type(document).__name__}, not an object")
    if "payload" in document and "op" not in document:
        payload = document["payload"]
        if payload is None:
            raise InvalidEvent("tombstone", "schema wrapper with a null payload")
        if not isinstance(payload, dict):
            raise InvalidEvent("invalid_envelope", "`payload` is not an object")
        return payload
    return document


def _integer(row: dict[str, Any], name: str) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent("invalid_field", f"{name} must be an integer, got {type(value).__name__}")
    return value


def _text(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent("invalid_field", f"{name} must be a non-empty string")
    return value


def _optional_text(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidEvent("invalid_field", f"{name} must be a string")
    return value


def _amount(row: dict[str, Any]) -> float:
    value = row.get("amount")
    if isinstance(value, dict):
        raise InvalidEvent("invalid_field", "amount is an encoded decimal; set decimal.handling.mode=double")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InvalidEvent("invalid_field", "amount is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidEvent("invalid_field", "amount must be a finite number")
    return float(value)


def _timestamp(row: dict[str, Any]) -> datetime:
    value = row.get("created_at")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidEvent("invalid_field", "created_at is not an ISO-8601 timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        # MicroTimestamp (µs) or Timestamp (ms) when time.precision.mode is changed.
        seconds = value / 1_000_000 if abs(value) >= 10**14 else value / 1000
        return datetime.fromtimestamp(seconds, tz=UTC)
    raise InvalidEvent("invalid_field", "created_at must be an ISO-8601 string or epoch milliseconds")
