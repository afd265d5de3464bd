"""The local broker is a real Kafka: what is produced is consumed back."""

from __future__ import annotations

import json

from kafka import KafkaProducer
from mlplatform.config import Settings

from tests.runtime.helpers import consume, unique


def test_message_produced_is_consumed_back(platform: Settings) -> None:
    bootstrap = f"{platform.host}:{platform.kafka.port}"
    topic = unique("roundtrip")
    producer = KafkaProducer(bootstrap_servers=bootstrap, value_serializer=lambda v: json.dumps(v).encode())
    sent = [{"id": i, "amount": i * 1.5} for i in range(5)]
    for value in sent:
        producer.send(topic, value)
    producer.flush()
    producer.close()

    assert consume(bootstrap, topic, len(sent)) == sent
