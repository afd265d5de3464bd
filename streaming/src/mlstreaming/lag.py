"""Consumer lag of a Faust worker's input topics, refreshed by a timer into the lag gauge."""

from __future__ import annotations

from typing import cast

import faust
from faust.transport.consumer import Consumer

from mlstreaming.metrics import record_lag


def report_lag(app: faust.App, processor: str, topics: set[str]) -> None:
    """Lag per assigned partition of `topics`: highwater minus the next offset to read."""
    # The next offset to read is kept only by Faust's Consumer implementation, not on ConsumerT.
    consumer = cast(Consumer, app.consumer)
    rows: list[tuple[str, int, int, int | None]] = []
    for tp in consumer.assignment():
        if tp.topic not in topics:
            continue
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # metadata not there yet: report next time
            continue
        if highwater is not None:
            rows.append((tp.topic, tp.partition, highwater, consumer._read_offset.get(tp)))
    record_lag(processor, rows)
