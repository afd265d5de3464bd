"""The feature processor's Faust app: route change events by account, aggregate them in windows, emit vectors.

Two agents, because Debezium keys records by the row's primary key while the aggregates are per account:
`route` parses envelopes and re-keys transactions by account into an internal topic (stamped with the
transaction's event time), `aggregate` updates the windowed tables relative to that time and emits one
feature vector per transaction. Bad input never raises: it becomes a dead-letter record with its reason.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import faust

from mlstreaming.deadletter import dead_letter, source_id
from mlstreaming.envelope import InvalidEvent, Transaction, parse_transaction
from mlstreaming.features.vector import feature_vector
from mlstreaming.features.windows import Observation, add_observation, empty_aggregate, summarize
from mlstreaming.lag import report_lag
from mlstreaming.metrics import ERRORS, EVENTS_IN, PROCESSING_SECONDS
from mlstreaming.settings import StreamingSettings
from mlstreaming.sink import Sink, TopicSink
from mlstreaming.worker import faust_app

PROCESSOR = "features"
log = logging.getLogger(__name__)


@dataclass
class FeatureProcessor:
    """The app and its parts, exposed so unit tests can drive agents and inspect tables."""

    app: faust.App
    settings: StreamingSettings
    sink: Sink
    by_account_topic: str
    route: Any = None
    aggregate: Any = None
    tumbling: Any = None
    hopping: Any = None
    newest: Any = None

    async def dead(self, reason: str, detail: str, source: dict[str, Any], **extra: Any) -> None:
        ERRORS.labels(PROCESSOR, reason).inc()
        record = dead_letter(processor=PROCESSOR, reason=reason, detail=detail, **source, **extra)
        await self.sink.send(self.settings.dead_letter_topic, record["id"], record)

    async def route_one(self, event: faust.EventT[Any]) -> None:
        """Parse one change event and forward it keyed by account, or dead-letter it."""
        message = event.message
        source: dict[str, Any] = {"topic": message.topic, "partition": message.partition, "offset": message.offset}
        EVENTS_IN.labels(PROCESSOR, message.topic).inc()
        try:
            transaction = parse_transaction(event.value)
        except InvalidEvent as exc:
            await self.dead(exc.reason, exc.detail, source, key=message.key, value=event.value)
            return
        except Exception as exc:  # a bug must not stop the stream: keep the record for replay
            log.exception("unexpected error parsing %s", source_id(**source))
            await self.dead("processing_error", type(exc).__name__, source, key=message.key, value=event.value)
            return
        ahead = transaction.event_time - time.time()
        if ahead > self.settings.max_future_seconds:  # the broker would refuse the re-keyed record's timestamp
            detail = (
                f"event time is {ahead:.0f}s ahead of this worker's clock (allowed {self.settings.max_future_seconds}s)"
            )
            await self.dead("future_event", detail, source, key=message.key, value=event.value)
            return
        await self.sink.send(
            self.by_account_topic,
            transaction.account_id,
            {"transaction": transaction.to_json(), "source": source},
            timestamp=transaction.event_time,
        )

    async def aggregate_one(self, event: faust.EventT[Any]) -> None:
        """Add one transaction to its account's windows and emit the feature vector, or dead-letter it if late."""
        EVENTS_IN.labels(PROCESSOR, event.message.topic).inc()
        value: Any = event.value  # the routed record, decoded from JSON
        source: dict[str, Any] = (
            value["source"]
            if isinstance(value, dict) and "source" in value
            else {"topic": event.message.topic, "partition": event.message.partition, "offset": event.message.offset}
        )
        try:
            transaction = Transaction.from_json(value["transaction"])
        except Exception as exc:
            detail = f"unreadable routed record: {type(exc).__name__}"
            await self.dead("processing_error", detail, source, payload=value)
            return
        account, event_time = transaction.account_id, transaction.event_time
        newest = self.newest[account]
        lateness = self.settings.allowed_lateness_seconds
        if newest and event_time < newest - lateness:
            await self.dead(
                "late_event",
                f"event time is {newest - event_time:.0f}s behind the account's newest event (allowed {lateness}s)",
                source,
                payload=value["transaction"],
            )
            return
        if event_time > newest:
            self.newest[account] = event_time
        observation = Observation(transaction.amount, source["partition"], source["offset"])
        self.tumbling[account].apply(add_observation, observation, event)
        self.hopping[account].apply(add_observation, observation, event)
        windows = {
            "tumbling": self._window(self.tumbling, account, event_time, earliest=False),
            "hopping": self._window(self.hopping, account, event_time, earliest=True),
        }
        vector = feature_vector(transaction, source, source_id(**source), windows)
        await self.sink.send(self.settings.features_topic, account, vector)

    def _window(self, table: Any, account: str, event_time: float, earliest: bool) -> dict[str, Any]:
        """The window a vector reports: the tumbling one, or the hopping one covering the most history."""
        window = table.table.window
        bounds = window.earliest(event_time) if earliest else window.current(event_time)
        aggregate = table.table[(account, bounds)]
        return summarize(aggregate, bounds[0], window.size, window.step if earliest else None)


def build(settings: StreamingSettings, sink: Sink | None = None) -> FeatureProcessor:
    """The feature processor for `settings`; `sink` replaces Kafka outputs in unit tests."""
    app = faust_app(settings.features_app_id, settings)
    topics = TopicSink(app, PROCESSOR)
    by_account = f"{settings.features_app_id}-transactions-by-account"
    routed = topics.add(by_account, internal=True, partitions=settings.partitions)
    topics.add(settings.features_topic)
    topics.add(settings.dead_letter_topic)
    source = app.topic(settings.source_topic, key_serializer="raw", value_serializer="raw")
    processor = FeatureProcessor(app=app, settings=settings, sink=sink or topics, by_account_topic=by_account)

    expires = settings.window_expires_seconds
    processor.tumbling = (
        app.Table("tumbling", default=empty_aggregate, partitions=settings.partitions)
        .tumbling(settings.tumbling_window_seconds, expires=expires)
        .relative_to_stream()
    )
    processor.hopping = (
        app.Table("hopping", default=empty_aggregate, partitions=settings.partitions)
        .hopping(settings.hopping_window_seconds, settings.hopping_step_seconds, expires=expires)
        .relative_to_stream()
    )
    processor.newest = app.Table("newest-event-time", default=float, partitions=settings.partitions)

    async def route(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            await processor.route_one(event)
            PROCESSING_SECONDS.labels(PROCESSOR, "route").observe(time.perf_counter() - started)

    async def aggregate(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            await processor.aggregate_one(event)
            PROCESSING_SECONDS.labels(PROCESSOR, "aggregate").observe(time.perf_counter() - started)

    processor.route = app.agent(source, name="route")(route)
    processor.aggregate = app.agent(routed, name="aggregate")(aggregate)

    async def lag() -> None:
        report_lag(app, PROCESSOR, {settings.source_topic, by_account})

    app.timer(settings.lag_interval_seconds)(lag)  # not as a decorator: Faust types timer() as a bare Callable

    return processor


def topics(settings: StreamingSettings) -> list[str]:
    """Topics created before the worker starts (the source too, so a worker may start before Debezium)."""
    return [settings.source_topic, settings.features_topic, settings.dead_letter_topic]
