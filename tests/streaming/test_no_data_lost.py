"""No input is lost when a worker is killed mid-stream or when a second worker joins mid-stream.

Processing is at-least-once: every input record ends up as a feature vector or a dead letter carrying the
input's id (`topic/partition/offset`), possibly more than once; windows skip replays, so each window's count
never exceeds the transactions it really holds.
"""

from __future__ import annotations

from tests.runtime.helpers import wait_for
from tests.streaming.accounting import (
    accounted_ids,
    expected_tumbling_counts,
    observed_tumbling_counts,
    source_ids,
)
from tests.streaming.helpers import (
    BASE_TIME,
    BackgroundProducer,
    Streams,
    TopicReader,
    create_topic,
    produce,
    synthetic_events,
)

TUMBLING = 60


def run_and_account(
    streams: Streams, events: list[tuple[bytes, bytes]], producer: BackgroundProducer
) -> tuple[list, list]:
    """Wait for the producer, then until every input record is accounted for; return (features, dead)."""
    source = streams.topic("transactions")
    features = TopicReader(streams.settings, streams.topic("features"))
    dead = TopicReader(streams.settings, streams.topic("dead-letter"))
    try:
        producer.join(timeout=120)
        assert producer.error is None, producer.error
        expected = source_ids(streams.settings, source)
        assert len(expected) == len(events)

        def all_accounted() -> bool:
            features.poll()
            dead.poll()
            return expected <= accounted_ids(features.values, dead.values)

        try:
            wait_for(all_accounted, 300, "every input to be accounted for", interval=0.2)
        except AssertionError as exc:
            missing = expected - accounted_ids(features.values, dead.values)
            tails = "\n".join(f"--- {p.log_path.name}:\n{p.log_tail()}" for p in streams.processors)
            raise AssertionError(f"{exc}: {len(missing)} of {len(expected)} inputs missing\n{tails}") from None
    finally:
        features.close()
        dead.close()
    return features.values, dead.values


def assert_windows_counted_once(features: list, events: list[tuple[bytes, bytes]]) -> None:
    observed = observed_tumbling_counts(features, BASE_TIME.timestamp())
    expected = expected_tumbling_counts(events, TUMBLING)
    assert observed == expected


def test_a_worker_killed_mid_stream_resumes_without_losing_or_double_counting(
    streams: Streams,
) -> None:
    streams.extra["MLP_STREAMING__ALLOWED_LATENESS_SECONDS"] = "100000"
    source = streams.topic("transactions")
    create_topic(streams.settings, source, 2)
    events = list(synthetic_events(1600))
    producer = BackgroundProducer(streams.settings, source, events[200:], per_second=150)
    produce(streams.settings, source, events[:200])
    worker = streams.processor("features").start()

    reader = TopicReader(streams.settings, streams.topic("features"))
    try:
        reader.wait(lambda v: len(v) >= 100, 90, "the worker to process the first events")
        producer.start()
        reader.wait(lambda v: len(v) >= 400, 120, "the worker to be mid-stream")
    finally:
        reader.close()
    worker.kill()
    assert len(reader.values) < len(events) * 0.9, "the kill should happen mid-stream"
    worker.start()

    features, dead = run_and_account(streams, events, producer)
    assert worker.alive, worker.log_tail()
    assert {d["reason"] for d in dead} == {"malformed_json"}
    assert len({d["id"] for d in dead}) == len(events) // 50
    assert_windows_counted_once(features, events)


def test_two_workers_share_partitions_through_a_rebalance_without_losing_events(
    streams: Streams,
) -> None:
    streams.extra.update(
        {
            "MLP_STREAMING__ALLOWED_LATENESS_SECONDS": "100000",
            "MLP_STREAMING__PARTITIONS": "4",
        }
    )
    source = streams.topic("transactions")
    create_topic(streams.settings, source, 4)
    events = list(synthetic_events(1600))
    producer = BackgroundProducer(streams.settings, source, events[200:], per_second=120)
    produce(streams.settings, source, events[:200])
    first = streams.processor("features", worker="w1").start()

    reader = TopicReader(streams.settings, streams.topic("features"))
    try:
        reader.wait(lambda v: len(v) >= 100, 90, "the first worker to process the first events")
        producer.start()
        reader.wait(lambda v: len(v) >= 400, 120, "the first worker to be mid-stream")
    finally:
        reader.close()
    second = streams.processor("features", worker="w2").start()
    assert len(reader.values) < len(events) * 0.9, "the second worker should join mid-stream"

    features, dead = run_and_account(streams, events, producer)
    second_read = second.metric("mlp_stream_events_in_total", processor="features", topic=source)
    assert second_read, "the second worker never got partitions of the source topic"
    assert first.alive and second.alive, first.log_tail() + second.log_tail()
    assert {d["reason"] for d in dead} == {"malformed_json"}
    assert_windows_counted_once(features, events)
