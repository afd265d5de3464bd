"""Prometheus metrics shared by both processors; names follow Prometheus conventions (`_total`, `_seconds`)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram, start_http_server

EVENTS_IN = Counter("mlp_stream_events_in", "Records consumed.", ["processor", "topic"])
EVENTS_OUT = Counter("mlp_stream_events_out", "Records produced.", ["processor", "topic"])
ERRORS = Counter("mlp_stream_errors", "Records or calls that failed, by reason.", ["processor", "reason"])
PROCESSING_SECONDS = Histogram(
    "mlp_stream_processing_seconds",
    "Time to process one record (features) or one micro-batch (scoring), model call included.",
    ["processor", "stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge(
    "mlp_stream_consumer_lag",
    "Records between the last one read and the end of the partition.",
    ["processor", "topic", "partition"],
)
# `version` is the registered model version that answered (the V2 response's model_version; "none" when no
# version answered), so a canary's latency compares with its champion's, locally as behind Seldon.
MODEL_CALL_SECONDS = Histogram(
    "mlp_stream_model_call_seconds",
    "Duration of one V2 inference request, by answering model version and outcome.",
    ["processor", "model", "version", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SIZE = Histogram(
    "mlp_stream_batch_size",
    "Feature vectors per inference request.",
    ["processor", "model"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
BREAKER_OPEN = Gauge(
    "mlp_stream_circuit_breaker_open", "1 while the model circuit breaker is open.", ["processor", "model"]
)


def serve(port: int) -> None:
    """Expose /metrics on `port` in a background thread."""
    start_http_server(port)


def record_lag(processor: str, offsets: Iterable[tuple[str, int, int, int | None]]) -> None:
    """Set the lag gauge from (topic, partition, highwater, last read offset) tuples."""
    for topic, partition, highwater, read in offsets:
        lag = highwater - (read + 1 if read is not None else 0)
        CONSUMER_LAG.labels(processor, topic, str(partition)).set(max(lag, 0))
