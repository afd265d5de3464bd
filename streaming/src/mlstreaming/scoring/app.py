"""The scoring processor's Faust app: feature vectors in micro-batches to the model, predictions and a log out.

Every vector read ends up in exactly one place per delivery: `predictions` plus `prediction-log` when scored,
or `dead-letter` (with the vector and the reason) when it is unreadable or the model could not score it, so
it can be replayed once the model is back.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust

from mlstreaming.deadletter import dead_letter
from mlstreaming.features.vector import MODEL_COLUMNS, InvalidVector, model_row
from mlstreaming.lag import report_lag
from mlstreaming.metrics import ERRORS, EVENTS_IN, PROCESSING_SECONDS
from mlstreaming.scoring.client import ModelCallError, V2Client
from mlstreaming.scoring.scorer import Scorer
from mlstreaming.settings import StreamingSettings
from mlstreaming.sink import Sink, TopicSink
from mlstreaming.worker import faust_app

PROCESSOR = "scoring"
log = logging.getLogger(__name__)


@dataclass
class ScoringProcessor:
    app: faust.App
    settings: StreamingSettings
    sink: Sink
    scorer: Scorer
    score: Any = None

    async def score_batch(self, events: list[faust.EventT]) -> None:
        """Score the readable vectors of one micro-batch with one request; dead-letter the rest."""
        settings = self.settings
        accepted: list[tuple[dict[str, Any], list[float], dict[str, Any]]] = []
        for event in events:
            message = event.message
            EVENTS_IN.labels(PROCESSOR, message.topic).inc()
            source = {"topic": message.topic, "partition": message.partition, "offset": message.offset}
            try:
                vector = json.loads(event.value) if event.value else None
                accepted.append((vector, model_row(vector), source))
            except (ValueError, InvalidVector) as exc:
                await self._dead("invalid_feature_vector", str(exc)[:300], source, value=event.value)
        if not accepted:
            return
        ids = [vector["id"] for vector, _, _ in accepted]
        try:
            inference = await self.scorer.score(ids, MODEL_COLUMNS, [row for _, row, _ in accepted])
        except ModelCallError as exc:
            # Counted once per call by the scorer; each unscored vector is kept for replay.
            for vector, _, source in accepted:
                await self._dead(exc.reason, exc.detail, source, payload=vector, count=False)
            return
        model_version = inference.model_version or settings.model_version
        scored_at = datetime.now(tz=UTC).isoformat()
        for (vector, _, _), prediction in zip(accepted, inference.predictions, strict=True):
            common = {
                "id": vector["id"],
                "account_id": vector.get("account_id"),
                "transaction_id": vector.get("transaction_id"),
                "event_time": vector.get("event_time"),
                "prediction": prediction,
                "model_name": inference.model_name,
                "model_version": model_version,
                "request_id": inference.request_id,
            }
            await self.sink.send(settings.predictions_topic, vector.get("account_id"), common)
            await self.sink.send(
                settings.prediction_log_topic,
                vector.get("account_id"),
                {**common, "features": vector, "scored_at": scored_at},
            )

    async def _dead(self, reason: str, detail: str, source: dict[str, Any], count: bool = True, **extra: Any) -> None:
        if count:
            ERRORS.labels(PROCESSOR, reason).inc()
        record = dead_letter(processor=PROCESSOR, reason=reason, detail=detail, **source, **extra)
        await self.sink.send(self.settings.dead_letter_topic, record["id"], record)


def build(settings: StreamingSettings, sink: Sink | None = None, scorer: Scorer | None = None) -> ScoringProcessor:
    """The scoring processor for `settings`; `sink` and `scorer` replace Kafka and the model in unit tests."""
    app = faust_app(settings.scoring_app_id, settings)
    topics = TopicSink(app, PROCESSOR)
    for name in (settings.predictions_topic, settings.prediction_log_topic, settings.dead_letter_topic):
        topics.add(name)
    source = app.topic(settings.features_topic, key_serializer="raw", value_serializer="raw")
    scorer = scorer or Scorer(
        V2Client(settings.model_url, settings.model_name, settings.model_timeout_seconds),
        processor=PROCESSOR,
        attempts=settings.model_attempts,
        backoff_seconds=settings.retry_backoff_seconds,
        breaker_threshold=settings.breaker_failure_threshold,
        breaker_reset_seconds=settings.breaker_reset_seconds,
    )
    processor = ScoringProcessor(app=app, settings=settings, sink=sink or topics, scorer=scorer)

    async def score(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_seconds):
            started = time.perf_counter()
            await processor.score_batch(list(events))
            PROCESSING_SECONDS.labels(PROCESSOR, "batch").observe(time.perf_counter() - started)

    processor.score = app.agent(source, name="score")(score)

    @app.timer(settings.lag_interval_seconds)
    async def lag() -> None:
        report_lag(app, PROCESSOR, {settings.features_topic})

    @app.on_before_shutdown.connect
    async def close_client(app: faust.App, **kwargs: Any) -> None:
        await scorer.client.aclose()

    return processor


def topics(settings: StreamingSettings) -> list[str]:
    return [
        settings.features_topic,
        settings.predictions_topic,
        settings.prediction_log_topic,
        settings.dead_letter_topic,
    ]
