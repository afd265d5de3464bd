"""Dead-letter records: what could not be processed, why, and where it came from, so it can be replayed."""

from __future__ import annotations

import base64
from typing import Any


def source_id(topic: str, partition: int, offset: int) -> str:
    """Identity of an input record; every output derived from it carries it, so duplicates are detectable."""
    return f"{topic}/{partition}/{offset}"


def dead_letter(
    *,
    processor: str,
    reason: str,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None = None,
    value: bytes | None = None,
    payload: Any = None,
) -> dict[str, Any]:
    """The dead-letter value; the original bytes are kept as text when they are UTF-8, else base64."""
    record: dict[str, Any] = {
        "id": source_id(topic, partition, offset),
        "processor": processor,
        "reason": reason,
        "detail": detail,
        "source": {"topic": topic, "partition": partition, "offset": offset},
        "key": _text_or_base64(key),
        "value": _text_or_base64(value),
    }
    if payload is not None:
        record["payload"] = payload
    return record


def _text_or_base64(raw: bytes | None) -> dict[str, str] | None:
    if raw is None:
        return None
    try:
        return {"encoding": "utf-8", "data": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "data": base64.b64encode(raw).decode("ascii")}
