"""Where processors write: Faust topics in a worker, a list in unit tests, behind one small interface."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Protocol, cast

import faust

from mlstreaming.metrics import EVENTS_OUT

log = logging.getLogger(__name__)
#: Exit status of a worker whose output Kafka refused (EX_TEMPFAIL: restart it).
EXIT_OUTPUT_REFUSED = 75


class Sink(Protocol):
    async def send(self, topic: str, key: str | None, value: Any, timestamp: float | None = None) -> None: ...


class TopicSink:
    """Sends JSON values with UTF-8 keys to Faust topics, counting what goes out."""

    def __init__(self, app: faust.App, processor: str) -> None:
        self.app = app
        self.processor = processor
        self.topics: dict[str, faust.TopicT] = {}

    def add(self, name: str, **options: Any) -> faust.TopicT:
        topic = self.app.topic(name, key_serializer="raw", value_serializer="json", **options)
        self.topics[name] = topic
        return topic

    async def send(self, topic: str, key: str | None, value: Any, timestamp: float | None = None) -> None:
        # Typed as Awaitable[RecordMetadata]; Faust returns a FutureMessage, an asyncio.Future resolved on delivery.
        delivery = cast(
            "asyncio.Future[Any]",
            await self.topics[topic].send(
                key=key.encode() if key is not None else None, value=value, timestamp=timestamp
            ),
        )
        delivery.add_done_callback(self._delivered)
        EVENTS_OUT.labels(self.processor, topic).inc()

    def _delivered(self, delivery: asyncio.Future[Any]) -> None:
        """A record the broker refused must not be skipped (Faust itself only logs it). The worker exits at once:
        a graceful stop would commit the input's offset past it; without that, a restart reads it again."""
        if delivery.cancelled() or delivery.exception() is None:
            return
        log.critical(
            "Kafka refused an output record (%r): exiting without committing, so its input is read again",
            delivery.exception(),
        )
        logging.shutdown()
        os._exit(EXIT_OUTPUT_REFUSED)
