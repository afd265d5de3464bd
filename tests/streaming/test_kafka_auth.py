"""The processors log in with SCRAM-SHA-512, as on the chart's Kafka listener; a wrong password stops them."""

from __future__ import annotations

import time

from tests.streaming.helpers import Streams, TopicReader, create_topic, envelope, produce


def test_a_processor_on_the_scram_listener_turns_events_into_features(streams: Streams) -> None:
    env = streams.env(0, "probe")
    assert env["MLP_STREAMING__KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert env["MLP_STREAMING__KAFKA_BOOTSTRAP"].endswith(f":{streams.settings.kafka.sasl_port}")
    source = streams.topic("transactions")
    create_topic(streams.settings, source, 1)
    produce(streams.settings, source, [(b"1", envelope(1, "acct-scram", 5.0, 0))])
    worker = streams.processor("features").start()
    reader = TopicReader(streams.settings, streams.topic("features"))
    try:
        (vector,) = reader.wait(lambda values: len(values) >= 1, 120, "a feature vector")
    finally:
        reader.close()
    assert vector["account_id"] == "acct-scram", worker.log_tail()


def test_a_wrong_password_stops_the_worker_with_an_authentication_error(streams: Streams) -> None:
    streams.extra["MLP_STREAMING__KAFKA_PASSWORD"] = "not-the-password"
    worker = streams.processor("features").start()
    deadline = time.monotonic() + 90
    while worker.alive and time.monotonic() < deadline:
        time.sleep(1)
    assert not worker.alive, f"the worker kept running with a wrong password:\n{worker.log_tail()}"
    assert worker.process is not None and worker.process.returncode != 0
    log = worker.log_tail(5)
    assert "refused user 'faust'" in log and "MLP_STREAMING__KAFKA_PASSWORD" in log, log
    assert "Traceback" not in worker.log_path.read_text(errors="replace")
    assert "not-the-password" not in worker.log_path.read_text(errors="replace")
