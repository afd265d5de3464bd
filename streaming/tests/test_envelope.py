"""Debezium envelopes become transactions, and everything else a stable reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from helpers import BASE, envelope
from mlstreaming.envelope import InvalidEvent, parse_transaction


@pytest.mark.parametrize("schema", [True, False])
def test_envelopes_with_or_without_the_schema_wrapper_parse(schema: bool) -> None:
    transaction = parse_transaction(envelope(7, "acct-1", 12.5, 30, schema=schema))
    assert (transaction.id, transaction.account_id, transaction.amount) == (7, "acct-1", 12.5)
    assert transaction.created_at == datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert transaction.event_time == BASE.timestamp() + 30


def test_snapshot_reads_count_as_new_rows() -> None:
    assert parse_transaction(envelope(1, "a", 1.0, 0, op="r")).op == "r"


def _with_row(**changes: object) -> bytes:
    document = json.loads(envelope(1, "acct", 5.0, 0))
    document["payload"]["after"].update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "tombstone"),
        (b"", "tombstone"),
        (b"{nope", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[1, 2]", "invalid_envelope"),
        (b'{"schema": {}, "payload": null}', "tombstone"),
        (b'{"payload": {"op": "x"}}', "invalid_envelope"),
        (b'{"op": "c", "after": null}', "invalid_envelope"),
        (envelope(1, "a", 1.0, 0, op="u"), "unsupported_op"),
        (envelope(1, "a", 1.0, 0, op="d"), "unsupported_op"),
        (_with_row(amount="abc"), "invalid_field"),
        (_with_row(amount={"scale": 2, "value": "AQ=="}), "invalid_field"),
        (_with_row(amount=True), "invalid_field"),
        (_with_row(account_id=""), "invalid_field"),
        (_with_row(id="7"), "invalid_field"),
        (_with_row(created_at="yesterday"), "invalid_field"),
        (_with_row(created_at=None), "invalid_field"),
    ],
)
def test_unusable_input_raises_invalid_event_with_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_transaction(raw)
    assert caught.value.reason == reason


def test_numeric_strings_and_epoch_timestamps_are_accepted() -> None:
    transaction = parse_transaction(_with_row(amount="19.99", created_at=1_767_225_600_000))
    assert transaction.amount == 19.99
    assert transaction.created_at == BASE
    micros = parse_transaction(_with_row(created_at=1_767_225_600_000_000))
    assert micros.created_at == BASE
