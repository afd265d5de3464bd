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
from typing import Any, cast

import faust

from mlstreaming.deadletter import dead_letter
from mlstreaming.features.vector import MODEL_COLUMNS, InvalidVector, model_row
from mlstreaming.lag import report_lag
from mlstreaming.metrics import ERRORS, EVENTS_IN, PROCESSING_SECONDS
from mlstreaming.scoring.client import Inference, ModelCallError, V2Client
from mlstreaming.scoring.routing import Split, SplitSource
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
    split: SplitSource | None = None
    score: Any = None

    async def score_batch(self, events: list[faust.EventT[Any]]) -> None:
        """Score the readable vectors of one micro-batch, one request per version of the split; dead-letter the
        unreadable ones."""
        accepted: list[tuple[dict[str, Any], list[float], dict[str, Any]]] = []
        for event in events:
            message = event.message
            EVENTS_IN.labels(PROCESSOR, message.topic).inc()
            source: dict[str, Any] = {"topic": message.topic, "partition": message.partition, "offset": message.offset}
            try:
                vector: Any = json.loads(event.value) if event.value else None
                accepted.append((vector, model_row(vector), source))
            except (ValueError, InvalidVector) as exc:
                await self._dead("invalid_feature_vector", str(exc)[:300], source, value=event.value)
        if not accepted:
            return
        if self.split and not self.split.read:
            await self.split.refresh()
        split = self.split.split if self.split else Split()
        groups: dict[str | None, list[tuple[dict[str, Any], list[float], dict[str, Any]]]] = {}
        for item in accepted:
            vector = item[0]
            groups.setdefault(split.version_for(str(vector.get("account_id") or vector["id"])), []).append(item)
        for version, items in groups.items():
            await self._score_group(items, version, split)

    async def _score_group(
        self, items: list[tuple[dict[str, Any], list[float], dict[str, Any]]], version: str | None, split: Split
    ) -> None:
        """One request for the events routed to `version`; a canary that fails hands them to the champion."""
        settings = self.settings
        ids = [vector["id"] for vector, _, _ in items]
        rows = [row for _, row, _ in items]
        inference = None
        if version is not None and version == split.canary:
            try:
                inference = await self.scorer.try_canary(ids, MODEL_COLUMNS, rows, version)
            except ModelCallError as exc:
                log.warning("canary version %s failed (%s); its batch goes to the champion", version, exc)
                version = split.champion
        try:
            if inference is None:
                inference = await self._score_stable(ids, rows, version)
        except ModelCallError as exc:
            # Counted once per call by the scorer; each unscored vector is kept for replay.
            for vector, _, source in items:
                await self._dead(exc.reason, exc.detail, source, payload=vector, count=False)
            return
        model_version = inference.model_version or settings.model_version
        scored_at = datetime.now(tz=UTC).isoformat()
        for (vector, _, _), prediction in zip(items, inference.predictions, strict=True):
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

    async def _score_stable(self, ids: list[str], rows: list[list[float]], version: str | None) -> Inference:
        """The champion's answer; when its version has just left the server (a finalize), the split is read again."""
        try:
            return await self.scorer.score(ids, MODEL_COLUMNS, rows, version)
        except ModelCallError as exc:
            if exc.reason != "model_not_served" or self.split is None:
                raise
            current = await self.split.refresh()
            if current.champion == version:
                raise
            return await self.scorer.score(ids, MODEL_COLUMNS, rows, current.champion)

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
        V2Client(
            settings.model_url,
            settings.model_name,
            settings.model_timeout_seconds,
            version_url=settings.model_version_url,
        ),
        processor=PROCESSOR,
        attempts=settings.model_attempts,
        backoff_seconds=settings.retry_backoff_seconds,
        breaker_threshold=settings.breaker_failure_threshold,
        breaker_reset_seconds=settings.breaker_reset_seconds,
    )
    split = SplitSource(settings.mlflow_url, settings.model_name) if settings.mlflow_url else None
    processor = ScoringProcessor(app=app, settings=settings, sink=sink or topics, scorer=scorer, split=split)

    async def score(stream: faust.StreamT[Any]) -> None:
        # Agents get a faust.Stream; take_events() is on it, not on StreamT.
        async for events in cast(faust.Stream[Any], stream).take_events(
            settings.batch_size, within=settings.batch_timeout_seconds
        ):
            started = time.perf_counter()
            await processor.score_batch(list(events))
            PROCESSING_SECONDS.labels(PROCESSOR, "batch").observe(time.perf_counter() - started)

    processor.score = app.agent(source, name="score")(score)

    async def lag() -> None:
        report_lag(app, PROCESSOR, {settings.features_topic})

    app.timer(settings.lag_interval_seconds)(lag)  # not as a decorator: Faust types timer() as a bare Callable

    if split is not None:

        async def read_split() -> None:
            await split.refresh()

        app.timer(settings.split_refresh_seconds, on_leader=False)(read_split)

    # mode types the handler with mypy_extensions' VarArg/NamedArg, which no function definition satisfies.
    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def close_client(app: faust.App, **kwargs: Any) -> None:
        await scorer.client.aclose()
        if split is not None:
            await split.aclose()

    return processor


def topics(settings: StreamingSettings) -> list[str]:
    return [
        settings.features_topic,
        settings.predictions_topic,
        settings.prediction_log_topic,
        settings.dead_letter_topic,
    ]
