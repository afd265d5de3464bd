"""Malformed and late events land in the dead-letter topic with their reason; the processor keeps going."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.runtime.helpers import wait_for
from tests.streaming.helpers import (
    BASE_TIME,
    Streams,
    TopicReader,
    create_topic,
    envelope,
    produce,
)


def test_bad_events_are_dead_lettered_with_reasons_and_good_ones_still_become_features(
    streams: Streams,
) -> None:
    streams.extra["MLP_STREAMING__ALLOWED_LATENESS_SECONDS"] = "60"
    source = streams.topic("transactions")
    create_topic(streams.settings, source, 1)
    decimal_amount = json.loads(envelope(9, "acct-a", 1.0, 0))
    decimal_amount["payload"]["after"]["amount"] = {"scale": 2, "value": "BNI="}
    update = json.loads(envelope(3, "acct-a", 1.0, 0))
    update["payload"]["op"] = "u"
    a_day_from_now = (datetime.now(tz=UTC) - BASE_TIME).total_seconds() + 86_400
    records: list[tuple[bytes | None, bytes | None]] = [
        (b"1", envelope(1, "acct-a", 10.0, 1000)),  # offset 0: fine
        (b"x", b"{definitely not json"),  # 1
        (b"2", None),  # 2: tombstone
        (b"3", json.dumps(update).encode()),  # 3: an update, not a new transaction
        (b"9", json.dumps(decimal_amount).encode()),  # 4: amount encoded as a decimal
        (
            b"4",
            envelope(4, "acct-a", 20.0, 100),
        ),  # 5: 900 s behind acct-a's newest event
        (b"6", envelope(6, "acct-a", 40.0, a_day_from_now)),  # 6: stamped a day ahead of the clock
        (b"5", envelope(5, "acct-a", 30.0, 1010)),  # 7: fine, after all the bad ones
    ]
    produce(streams.settings, source, records)
    worker = streams.processor("features").start()

    features = TopicReader(streams.settings, streams.topic("features"))
    dead = TopicReader(streams.settings, streams.topic("dead-letter"))
    try:
        features.wait(lambda v: len(v) >= 2, 90, "two feature vectors")
        dead.wait(lambda v: len(v) >= 6, 60, "six dead letters")
    finally:
        features.close()
        dead.close()

    reasons = {d["source"]["offset"]: d["reason"] for d in dead.values}
    assert reasons == {
        1: "malformed_json",
        2: "tombstone",
        3: "unsupported_op",
        4: "invalid_field",
        5: "late_event",
        6: "future_event",
    }
    assert {d["id"] for d in dead.values} == {f"{source}/0/{offset}" for offset in range(1, 7)}
    assert dead.values[0]["value"] == {
        "encoding": "utf-8",
        "data": "{definitely not json",
    }
    assert [(v["transaction_id"], v["windows"]["tumbling"]["count"]) for v in features.values] == [(1, 1), (5, 2)]
    assert worker.alive, worker.log_tail()
    assert wait_for(
        lambda: worker.metric("mlp_stream_errors_total", processor="features", reason="late_event") == 1.0,
        15,
        "the late event to be counted in the metrics",
    )
    assert (
        worker.metric(
            "mlp_stream_events_out_total",
            processor="features",
            topic=streams.topic("dead-letter"),
        )
        == 6
    )
