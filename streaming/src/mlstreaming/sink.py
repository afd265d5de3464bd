"""Where processors write: Faust topics in a worker, a list in unit tests, behind one small interface."""

from __future__ import annotations

from typing import Any, Protocol

import faust

from mlstreaming.metrics import EVENTS_OUT


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
        await self.topics[topic].send(key=key.encode() if key is not None else None, value=value, timestamp=timestamp)
        EVENTS_OUT.labels(self.processor, topic).inc()
