"""Checks that every input record is accounted for, and that windows counted each transaction once."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from mlplatform.config import Settings

from tests.streaming.helpers import MALFORMED, bootstrap


def source_ids(settings: Settings, topic: str) -> set[str]:
    """`topic/partition/offset` of every record in `topic`, the ids outputs and dead letters carry."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap(settings))
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(partitions)
    finally:
        consumer.close()
    return {f"{topic}/{tp.partition}/{offset}" for tp, end in ends.items() for offset in range(end)}


def accounted_ids(features: list[Any], dead: list[Any]) -> set[str]:
    return {record["id"] for record in features} | {record["id"] for record in dead}


def expected_tumbling_counts(events: list[tuple[bytes, bytes]], size: int) -> Counter[tuple[str, int]]:
    counts: Counter[tuple[str, int]] = Counter()
    for _, value in events:
        if value == MALFORMED:
            continue
        payload = json.loads(value)["payload"]["after"]
        seconds = int(payload["id"])  # the generator places transaction i at BASE + i seconds
        counts[(payload["account_id"], seconds // size * size)] += 1
    return counts


def observed_tumbling_counts(features: list[Any], base: float) -> Counter[tuple[str, int]]:
    """The largest count each (account, window) reached: what a double-counted replay would inflate."""
    from datetime import datetime

    counts: Counter[tuple[str, int]] = Counter()
    for vector in features:
        window = vector["windows"]["tumbling"]
        start = int(datetime.fromisoformat(window["start"]).timestamp() - base)
        key = (vector["account_id"], start)
        counts[key] = max(counts[key], window["count"])
    return counts
