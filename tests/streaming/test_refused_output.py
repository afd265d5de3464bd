"""An output record the broker refuses stops the worker instead of being lost; the input is read again."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tests.streaming.helpers import BASE_TIME, Streams, TopicReader, create_topic, envelope, produce


def test_a_refused_output_stops_the_worker_and_the_input_is_not_lost(streams: Streams) -> None:
    source = streams.topic("transactions")
    create_topic(streams.settings, source, 1)
    a_day_ahead = (datetime.now(tz=UTC) - BASE_TIME).total_seconds() + 86_400
    produce(streams.settings, source, [(b"1", envelope(1, "acct-f", 5.0, a_day_ahead))])

    # Without the future-event check, the re-keyed record carries a timestamp Kafka refuses (over 1 h ahead).
    streams.extra["MLP_STREAMING__MAX_FUTURE_SECONDS"] = str(10 * 86_400)
    worker = streams.processor("features", "unchecked").start()
    deadline = time.monotonic() + 120
    while worker.alive and time.monotonic() < deadline:
        time.sleep(1)
    assert not worker.alive, f"the worker kept running after Kafka refused its output:\n{worker.log_tail()}"
    assert worker.process is not None and worker.process.returncode == 75  # EX_TEMPFAIL: restart it
    assert "Kafka refused an output record" in worker.log_path.read_text(errors="replace")

    # The same consumer group, with the check: the event was not skipped, it is dead-lettered with its reason.
    del streams.extra["MLP_STREAMING__MAX_FUTURE_SECONDS"]
    streams.processor("features", "checked").start()
    dead = TopicReader(streams.settings, streams.topic("dead-letter"))
    try:
        (letter,) = dead.wait(lambda values: len(values) >= 1, 120, "the refused event in the dead-letter topic")
    finally:
        dead.close()
    assert (letter["reason"], letter["id"]) == ("future_event", f"{source}/0/0")
