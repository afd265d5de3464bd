"""The feature processor's agents, driven through Faust's agent test context with outputs recorded."""

from __future__ import annotations

from typing import Any

from helpers import BASE, RecordingSink, envelope
from mlstreaming.features.app import FeatureProcessor, build
from mlstreaming.settings import StreamingSettings


async def route_all(processor: FeatureProcessor, raws: list[bytes | None]) -> None:
    async with processor.route.test_context() as agent:
        for raw in raws:
            await agent.put(raw, key=b"k")


async def aggregate_all(processor: FeatureProcessor, routed: list[tuple[str, Any, float]]) -> None:
    async with processor.aggregate.test_context() as agent:
        for key, value, timestamp in routed:
            await agent.put(value, key=key.encode(), timestamp=timestamp)


def routed_records(sink: RecordingSink, processor: FeatureProcessor) -> list[tuple[str, Any, float]]:
    return [(key, value, ts) for topic, key, value, ts in sink.sent if topic == processor.by_account_topic]


async def test_route_rekeys_by_account_with_event_time_and_dead_letters_bad_input(settings: StreamingSettings) -> None:
    sink = RecordingSink()
    processor = build(settings, sink=sink)
    await route_all(processor, [envelope(1, "acct-1", 10.0, 5), b"{broken", None, envelope(2, "acct-2", 3.0, 7)])

    routed = routed_records(sink, processor)
    assert [(key, value["transaction"]["id"]) for key, value, _ in routed] == [("acct-1", 1), ("acct-2", 2)]
    assert [ts for _, _, ts in routed] == [BASE.timestamp() + 5, BASE.timestamp() + 7]
    assert routed[0][1]["source"] == {"topic": "tx", "partition": 0, "offset": 0}
    dead = sink.values("dead-letter")
    assert [(d["reason"], d["source"]["offset"]) for d in dead] == [("malformed_json", 1), ("tombstone", 2)]
    assert dead[0]["value"] == {"encoding": "utf-8", "data": "{broken"}


async def test_vectors_carry_tumbling_and_hopping_aggregates(settings: StreamingSettings) -> None:
    sink = RecordingSink()
    processor = build(settings, sink=sink)
    # acct-1: 10 at t=10, 30 at t=50 (same minute), 20 at t=70 (next minute, same 5-minute hop); acct-2 apart.
    raws = [
        envelope(1, "acct-1", 10.0, 10),
        envelope(2, "acct-1", 30.0, 50),
        envelope(3, "acct-2", 99.0, 55),
        envelope(4, "acct-1", 20.0, 70),
    ]
    await route_all(processor, raws)
    await aggregate_all(processor, routed_records(sink, processor))

    vectors = {v["transaction_id"]: v for v in sink.values("features")}
    assert sorted(vectors) == [1, 2, 3, 4]
    last = vectors[4]
    assert (last["account_id"], last["amount"], last["id"]) == ("acct-1", 20.0, "tx/0/3")
    assert last["event_time"] == "2026-01-01T00:01:10+00:00"
    tumbling, hopping = last["windows"]["tumbling"], last["windows"]["hopping"]
    assert (tumbling["start"], tumbling["end"]) == ("2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00")
    assert (tumbling["count"], tumbling["sum"], tumbling["mean"], tumbling["max"]) == (1, 20.0, 20.0, 20.0)
    assert hopping["end"] == "2026-01-01T00:02:00+00:00" and hopping["step_seconds"] == 60
    assert (hopping["count"], hopping["sum"], hopping["mean"], hopping["max"]) == (3, 60.0, 20.0, 30.0)
    second = vectors[2]["windows"]["tumbling"]
    assert (second["count"], second["sum"], second["max"]) == (2, 40.0, 30.0)
    assert vectors[3]["windows"]["hopping"]["count"] == 1  # other accounts do not leak in


async def test_late_events_go_to_dead_letter_and_do_not_touch_windows(settings: StreamingSettings) -> None:
    sink = RecordingSink()
    processor = build(settings, sink=sink)
    # Allowed lateness is 120 s: t=400 is fine, then t=100 is 300 s behind the newest event of the account.
    await route_all(processor, [envelope(1, "a", 5.0, 400), envelope(2, "a", 7.0, 100), envelope(3, "a", 1.0, 350)])
    await aggregate_all(processor, routed_records(sink, processor))

    assert [v["transaction_id"] for v in sink.values("features")] == [1, 3]
    dead = sink.values("dead-letter")
    assert [(d["reason"], d["payload"]["id"], d["source"]["offset"]) for d in dead] == [("late_event", 2, 1)]
    # t=350's widest hopping window [60 s, 360 s) would hold the late t=100 event had it been counted.
    hopping = sink.values("features")[1]["windows"]["hopping"]
    assert (hopping["start"], hopping["count"], hopping["sum"]) == ("2026-01-01T00:01:00+00:00", 1, 1.0)


async def test_a_replayed_record_is_re_emitted_with_the_same_id_but_not_counted_again(
    settings: StreamingSettings,
) -> None:
    sink = RecordingSink()
    processor = build(settings, sink=sink)
    await route_all(processor, [envelope(1, "a", 5.0, 10), envelope(2, "a", 7.0, 20)])
    routed = routed_records(sink, processor)
    await aggregate_all(processor, [*routed, routed[0]])  # at-least-once redelivery of the first record

    vectors = sink.values("features")
    assert [v["id"] for v in vectors] == ["tx/0/0", "tx/0/1", "tx/0/0"]
    assert vectors[-1]["windows"]["tumbling"]["count"] == 2
