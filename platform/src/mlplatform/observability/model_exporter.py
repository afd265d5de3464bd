"""Exporter of MLflow model metrics: champion/challenger evaluation metrics, prediction distribution, drift.

Run as `python -m mlplatform.observability.model_exporter --port 9420 --mlflow-url ... --kafka-bootstrap ...`.
The registry is read every `refresh_seconds` into a snapshot that scrapes serve (a slow or failing MLflow
never blocks a scrape, and a model that loses its alias disappears from the next snapshot); the prediction
log is consumed continuously by a background thread.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kafka import KafkaConsumer
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlplatform.config import Settings
from mlplatform.observability.drift import ReferenceStats
from mlplatform.observability.outcomes import Outcomes, label_of
from mlplatform.observability.prediction_log import PredictionWindows, VersionKey, parse
from mlplatform.observability.registry import AliasedVersion, Judgement, ModelRegistry, RegistryError
from mlplatform.observability.settings import ModelExporterSettings

log = logging.getLogger(__name__)

REFERENCE_RETRY_SECONDS = 30.0
PREDICTION_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 2.5, 5, 10, 100, 1000)


@dataclass
class Snapshot:
    versions: list[AliasedVersion] = field(default_factory=list)
    judgements: list[Judgement] = field(default_factory=list)
    references: dict[VersionKey, ReferenceStats | None] = field(default_factory=dict)
    registry_up: bool = False
    refreshed_at: float = 0.0


class ModelExporter(Collector):
    """Owns a CollectorRegistry holding its own families and the prediction counters."""

    def __init__(self, settings: ModelExporterSettings, registry: ModelRegistry) -> None:
        self.settings = settings
        self.mlflow = registry
        self.windows = PredictionWindows(settings.window, settings.baseline_size)
        self.snapshot = Snapshot()
        self._run_ids: dict[VersionKey, str | None] = {}
        self._references: dict[str, tuple[ReferenceStats | None, float]] = {}
        self.stop = threading.Event()
        self.registry = CollectorRegistry()
        self.predictions = Histogram(
            "mlp_model_prediction",
            "Predictions read from the prediction log (the positive-class score for probability outputs).",
            ["model", "version"],
            buckets=PREDICTION_BUCKETS,
            registry=self.registry,
        )
        self.records = Counter(
            "mlp_model_exporter_records",
            "Prediction-log records read, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.refresh_errors = Counter(
            "mlp_model_exporter_refresh_errors", "Failed reads of the MLflow registry.", registry=self.registry
        )
        self.outcome_counts = Counter(
            "mlp_model_outcomes",
            "Logged predictions whose outcome label arrived, by outcome (true_positive, false_positive, ...).",
            ["model", "version", "outcome"],
            registry=self.registry,
        )
        self.outcomes = Outcomes(
            lambda model, version, kind: self.outcome_counts.labels(model, version, kind).inc(), settings.labels_kept
        )
        self.registry.register(self)

    # -- registry side --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read aliases, metrics and references into a new snapshot; keep the old one if MLflow fails."""
        try:
            versions = self.mlflow.aliased_versions(self.settings.aliases)
            for v in versions:
                self._run_ids[(v.model, v.version)] = v.run_id
        except RegistryError as exc:
            log.warning("registry refresh failed: %s", exc)
            self.refresh_errors.inc()
            self.snapshot = Snapshot(
                self.snapshot.versions, self.snapshot.judgements, self.snapshot.references, False, time.time()
            )
            return
        try:
            judgements = self.mlflow.judgements(sorted({v.model for v in versions}))
        except RegistryError as exc:  # the decisions are an audit view: keep the last ones
            log.warning("reading the canary judgements failed: %s", exc)
            judgements = self.snapshot.judgements
        references: dict[VersionKey, ReferenceStats | None] = {}
        for key in {*self.windows.keys(), *self._run_ids}:
            try:
                references[key] = self._reference(key)
            except RegistryError as exc:  # one unreadable reference must not hide the others
                log.warning("reference of %s version %s: %s", *key, exc)
                references[key] = self.snapshot.references.get(key)
        self.snapshot = Snapshot(versions, judgements, references, True, time.time())

    def _reference(self, key: VersionKey) -> ReferenceStats | None:
        if key not in self._run_ids:
            self._run_ids[key] = self.mlflow.version_run_id(*key)
        run_id = self._run_ids[key]
        if run_id is None:
            return None
        cached = self._references.get(run_id)
        if cached is None or (cached[0] is None and time.monotonic() - cached[1] > REFERENCE_RETRY_SECONDS):
            # A missing reference is asked for again later: artifacts may land after registration.
            cached = (self.mlflow.reference(run_id, self.settings.reference_artifact), time.monotonic())
            self._references[run_id] = cached
        return cached[0]

    # -- prediction-log side --------------------------------------------------------------------
    def observe(self, raw: bytes | None) -> None:
        try:
            prediction = parse(raw)
        except ValueError:
            self.records.labels("invalid").inc()
            return
        self.records.labels("ok").inc()
        self.windows.add(prediction)
        if prediction.value is not None:
            self.predictions.labels(prediction.model, prediction.version).observe(prediction.value)
        self.outcomes.prediction(prediction)

    def observe_label(self, raw: bytes | None) -> None:
        found = label_of(raw, self.settings.label_field)
        if found is not None:
            self.outcomes.label(*found)

    def consume(self, bootstrap: str) -> None:
        """Read the prediction log and the labels until `stop` is set (runs in its own thread)."""
        topics = [self.settings.topic, *([self.settings.labels_topic] if self.settings.labels_topic else [])]
        consumer = KafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=self.settings.group_id,
            auto_offset_reset="earliest",
            enable_auto_commit=True,
            **self.settings.kafka_options(),
        )
        try:
            while not self.stop.is_set():
                for partition, records in consumer.poll(timeout_ms=1000).items():
                    handle = self.observe if partition.topic == self.settings.topic else self.observe_label
                    for record in records:
                        handle(record.value)
        finally:
            consumer.close()

    # -- scrape ---------------------------------------------------------------------------------
    def collect(self) -> Iterable[Metric]:
        yield from _families(self.snapshot, self.windows)


def _families(snapshot: Snapshot, windows: PredictionWindows) -> Iterator[Metric]:
    metric = GaugeMetricFamily(
        "mlp_model_metric",
        "Evaluation metric of the model version under an alias (champion, challenger), from its MLflow run.",
        labels=["model", "alias", "version", "metric"],
    )
    alias = GaugeMetricFamily(
        "mlp_model_alias_info", "1 for the version each alias points to.", labels=["model", "alias", "version"]
    )
    for v in snapshot.versions:
        alias.add_metric([v.model, v.alias, v.version], 1)
        for name, value in sorted(v.metrics.items()):
            metric.add_metric([v.model, v.alias, v.version, name], value)
    psi = GaugeMetricFamily(
        "mlp_model_feature_drift_psi",
        "Population stability index of a feature's latest values against the reference (> 0.2: drifted).",
        labels=["model", "version", "feature", "reference"],
    )
    shift = GaugeMetricFamily(
        "mlp_model_feature_mean_shift",
        "Shift of a feature's mean from the reference, in reference standard deviations.",
        labels=["model", "version", "feature", "reference"],
    )
    for d in windows.drift(snapshot.references):
        psi.add_metric([d.model, d.version, d.feature, d.reference], d.psi)
        shift.add_metric([d.model, d.version, d.feature, d.reference], d.mean_shift)
    mean = GaugeMetricFamily(
        "mlp_model_prediction_mean", "Mean of the latest predictions per version.", labels=["model", "version"]
    )
    size = GaugeMetricFamily(
        "mlp_model_drift_window_records", "Predictions in the drift window per version.", labels=["model", "version"]
    )
    for s in windows.summaries():
        size.add_metric([s.model, s.version], s.size)
        if s.prediction_mean is not None:
            mean.add_metric([s.model, s.version], s.prediction_mean)
    judged = GaugeMetricFamily(
        "mlp_model_canary_judged_timestamp_seconds",
        "When the canary judge decided on a version (Unix time), by decision: finalized or rolled_back.",
        labels=["model", "version", "decision"],
    )
    for j in snapshot.judgements:
        judged.add_metric([j.model, j.version, j.decision], j.judged_at)
    up = GaugeMetricFamily("mlp_model_exporter_registry_up", "1 if the last read of the MLflow registry worked.")
    up.add_metric([], 1 if snapshot.registry_up else 0)
    refreshed = GaugeMetricFamily(
        "mlp_model_exporter_last_refresh_timestamp_seconds", "When the registry was last read (Unix time)."
    )
    refreshed.add_metric([], snapshot.refreshed_at)
    yield from (metric, alias, psi, shift, mean, size, judged, up, refreshed)


def serve(settings: ModelExporterSettings, mlflow_url: str, kafka_bootstrap: str | None, host: str) -> None:
    """Serve /metrics and keep refreshing until interrupted."""
    exporter = ModelExporter(settings, ModelRegistry(mlflow_url))
    start_http_server(settings.port, addr=host, registry=exporter.registry)
    if kafka_bootstrap:
        threading.Thread(target=exporter.consume, args=(kafka_bootstrap,), name="prediction-log", daemon=True).start()
    log.info("model exporter on %s:%s (MLflow %s)", host, settings.port, mlflow_url)
    try:
        while True:
            exporter.refresh()
            exporter.stop.wait(settings.refresh_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        exporter.stop.set()


def main(argv: list[str] | None = None) -> None:
    # MLP_MODEL_EXPORTER__* variables (the Kafka login among them) first, then the command line.
    defaults = Settings().model_exporter
    parser = argparse.ArgumentParser(prog="python -m mlplatform.observability.model_exporter", description=__doc__)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--host", default="0.0.0.0", help="Address to listen on.")
    parser.add_argument("--mlflow-url", required=True, help="Base URL of the MLflow tracking server.")
    parser.add_argument("--kafka-bootstrap", help="Kafka bootstrap servers; without it no prediction log is read.")
    parser.add_argument("--topic", default=defaults.topic)
    parser.add_argument("--labels-topic", default=defaults.labels_topic, help="change topic with outcome labels")
    parser.add_argument("--group-id", default=defaults.group_id)
    parser.add_argument("--refresh-seconds", type=float, default=defaults.refresh_seconds)
    parser.add_argument("--window", type=int, default=defaults.window)
    parser.add_argument("--baseline-size", type=int, default=defaults.baseline_size)
    parser.add_argument("--reference-artifact", default=defaults.reference_artifact)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = defaults.model_copy(
        update={
            "port": args.port,
            "topic": args.topic,
            "labels_topic": args.labels_topic or None,
            "group_id": args.group_id,
            "refresh_seconds": args.refresh_seconds,
            "window": args.window,
            "baseline_size": args.baseline_size,
            "reference_artifact": args.reference_artifact,
        }
    )
    try:
        settings.kafka_options()
    except ValueError as exc:
        parser.error(str(exc))
    serve(settings, args.mlflow_url, args.kafka_bootstrap, args.host)


if __name__ == "__main__":
    main()
