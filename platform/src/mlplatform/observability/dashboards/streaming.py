"""Streaming: throughput, consumer lag, dead letters and processing latency of the stream processors.

From the processors' own metrics (streaming/src/mlstreaming/metrics.py, `mlp_stream_*`), so the lag shown is
the processors' view and is there locally too, where no Kafka Exporter runs.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from mlplatform.observability.dashboards.common import NS, RATE, Query, build, graph, label_variable, or_zero, rate_by

FILE = "streaming.json"
SEL = f'{NS}, processor=~"$processor"'
IN, OUT = "mlp_stream_events_in_total", "mlp_stream_events_out_total"


def _quantiles(metric: str, by: str) -> list[Query]:
    return [
        Query(
            f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}{{{SEL}}}[{RATE}])))",
            f"p{int(q * 100)} " + " ".join(f"{{{{{label.strip()}}}}}" for label in by.split(",")),
        )
        for q in (0.5, 0.95, 0.99)
    ]


def dashboard() -> db.Dashboard:
    dead = or_zero(rate_by(OUT, "processor", f'{SEL}, topic="dead-letter"'), rate_by(IN, "processor", SEL))
    throughput = [
        graph(
            "Records in per second",
            "Records each processor consumed, by input topic.",
            [Query(rate_by(IN, "processor, topic", SEL), "{{processor}} ← {{topic}}")],
            unit="ops",
        ),
        graph(
            "Records out per second",
            "Records each processor produced, by output topic (dead-letter included).",
            [Query(rate_by(OUT, "processor, topic", SEL), "{{processor}} → {{topic}}")],
            unit="ops",
        ),
        graph(
            "Consumer lag",
            "Records between each processor's position and the end of its input partitions; "
            "StreamConsumerLagHigh fires above 1000 for 10 minutes.",
            [Query(f"max by (processor, topic) (mlp_stream_consumer_lag{{{SEL}}})", "{{processor}} {{topic}}")],
            threshold=1000,
        ),
        graph(
            "Dead-letter ratio",
            "Share of each processor's input sent to the dead-letter topic; StreamDeadLetterRateHigh fires above 1%.",
            [Query(f"{dead} / {rate_by(IN, 'processor', SEL)}", "{{processor}}")],
            unit="percentunit",
            threshold=0.01,
        ),
        graph(
            "Dead letters and errors per second by reason",
            "Why records failed: invalid input, late events, model unreachable, circuit open...",
            [
                Query(
                    or_zero(
                        rate_by("mlp_stream_errors_total", "processor, reason", SEL), rate_by(IN, "processor", SEL)
                    ),
                    "{{processor}} {{reason}}",
                )
            ],
            unit="ops",
        ),
    ]
    latency = [
        graph(
            "Processing latency p50 / p95 / p99",
            "Time to process one record (features) or one micro-batch (scoring, model call included).",
            _quantiles("mlp_stream_processing_seconds_bucket", "processor, stage"),
            unit="s",
        ),
        graph(
            "Model call latency p95 by outcome",
            "Inference requests of the scoring processor, by outcome (ok or the failure reason).",
            [
                Query(
                    f"histogram_quantile(0.95, sum by (le, model, outcome) "
                    f"(rate(mlp_stream_model_call_seconds_bucket{{{SEL}}}[{RATE}])))",
                    "{{model}} {{outcome}}",
                )
            ],
            unit="s",
        ),
        graph(
            "Mean micro-batch size",
            "Feature vectors per inference request.",
            [
                Query(
                    f"{rate_by('mlp_stream_batch_size_sum', 'processor, model', SEL)} / "
                    f"{rate_by('mlp_stream_batch_size_count', 'processor, model', SEL)}",
                    "{{processor}} {{model}}",
                )
            ],
        ),
        graph(
            "Model circuit breaker",
            "1 while the scoring processor's circuit breaker for a model is open (calls are not even tried).",
            [Query(f"max by (processor, model) (mlp_stream_circuit_breaker_open{{{SEL}}})", "{{processor}} {{model}}")],
            threshold=1,
        ),
    ]
    return build(
        "mlp-streaming",
        "ML platform / Streaming",
        "Stream processors: throughput, lag, dead letters and latency.",
        [label_variable("processor", "Processor", IN)],
        [("Throughput and lag", throughput), ("Latency", latency)],
    )
