"""Model serving: request rate, latency percentiles, error ratio, canary vs champion (MLServer's own metrics).

MLServer counts requests per model and version (`model_infer_request_*`); its REST latency histogram
(`rest_server_request_duration_seconds`) has no model label, so percentiles per model and version come from the
scoring processor's client-side histogram (`mlp_stream_model_call_seconds`, labelled with the answering
version). In the cluster the serving PodMonitor adds the Seldon predictor as label `predictor`, so canary and
champion compare side by side.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from mlplatform.observability.dashboards.common import (
    NS,
    RATE,
    Query,
    build,
    canary_decisions,
    graph,
    label_variable,
    or_zero,
    rate_by,
)

FILE = "model-serving.json"
SEL = f'{NS}, model=~"$model"'
INFER = f'{NS}, app_name="mlserver", path=~".*/infer"'
OK, FAILED = "model_infer_request_success_total", "model_infer_request_failure_total"


def _error_ratio(by: str) -> str:
    ok, failed = rate_by(OK, by, SEL), rate_by(FAILED, by, SEL)
    failures, successes = or_zero(failed, ok), or_zero(ok, failed)
    return f"{failures} / ({failures} + {successes})"


def _mean_latency(by: str) -> str:
    total, count = "model_infer_request_duration_sum", "model_infer_request_duration_count"
    return f"{rate_by(total, by, SEL)} / {rate_by(count, by, SEL)}"


def _quantiles(metric: str, selector: str, by: str, legend: str) -> list[Query]:
    return [
        Query(
            f"histogram_quantile({q}, sum by (le{by}) (rate({metric}{{{selector}}}[{RATE}])))",
            f"p{int(q * 100)}{legend}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


def dashboard() -> db.Dashboard:
    traffic = [
        graph(
            "Requests per second by model version",
            "Inference requests MLServer answered, successful and failed.",
            [
                Query(rate_by(OK, "model, version", SEL), "{{model}} v{{version}} ok"),
                Query(rate_by(FAILED, "model, version", SEL), "{{model}} v{{version}} failed"),
            ],
            unit="reqps",
        ),
        graph(
            "Error ratio by model version",
            "Share of failed inference requests; the ModelServingErrorRatioHigh alert fires above 5% for 5 minutes.",
            [Query(_error_ratio("model, version"), "{{model}} v{{version}}")],
            unit="percentunit",
            threshold=0.05,
        ),
        graph(
            "HTTP responses by status",
            "Inference calls over REST by status code (all models of the server).",
            [Query(rate_by("rest_server_requests_total", "status_code", INFER), "{{status_code}}")],
            unit="reqps",
        ),
    ]
    latency = [
        graph(
            "Server latency p50 / p95 / p99",
            "MLServer's REST inference latency; the ModelServingLatencyHigh alert fires when p95 exceeds 500ms.",
            _quantiles("rest_server_request_duration_seconds_bucket", INFER, "", ""),
            unit="s",
            threshold=0.5,
        ),
        graph(
            "Model call latency p50 / p95 / p99 by model version (scoring client)",
            "Latency of one micro-batch inference as the scoring processor sees it, network included, by the "
            "version that answered: a canary's against its champion's.",
            _quantiles(
                "mlp_stream_model_call_seconds_bucket",
                f'{SEL}, outcome="ok"',
                ", model, version",
                " {{model}} v{{version}}",
            ),
            unit="s",
        ),
        graph(
            "Mean inference time by model version",
            "MLServer's own time per request, from its per-model summary.",
            [Query(_mean_latency("model, version"), "{{model}} v{{version}}")],
            unit="s",
        ),
    ]
    calls, failed_calls = "mlp_stream_model_call_seconds_count", f'{SEL}, outcome!="ok"'
    canary = [
        graph(
            "Judge's input: failed model calls by version (scoring client)",
            "Share of the scoring processor's calls to each version that failed: the canary judge's error_ratio gate "
            "(a failed canary call is retried on the champion, so no event is lost). Orange marks: its decisions.",
            [
                Query(
                    f"{or_zero(rate_by(calls, 'model, version', failed_calls), rate_by(calls, 'model, version', SEL))}"
                    f" / {rate_by(calls, 'model, version', SEL)}",
                    "{{model}} v{{version}}",
                )
            ],
            unit="percentunit",
        ),
        graph(
            "Traffic share by predictor and version",
            "Share of each model's requests served by each predictor (champion, canary) and version.",
            [
                Query(
                    f"{rate_by(OK, 'model, predictor, version', SEL)} / on (model) group_left "
                    f"{rate_by(OK, 'model', SEL)}",
                    "{{model}} {{predictor}} v{{version}}",
                )
            ],
            unit="percentunit",
        ),
        graph(
            "Error ratio by predictor and version",
            "Canary and champion side by side: failed share of requests.",
            [Query(_error_ratio("model, predictor, version"), "{{model}} {{predictor}} v{{version}}")],
            unit="percentunit",
            threshold=0.05,
        ),
        graph(
            "Mean inference time by predictor and version",
            "Canary and champion side by side: MLServer's time per request.",
            [Query(_mean_latency("model, predictor, version"), "{{model}} {{predictor}} v{{version}}")],
            unit="s",
        ),
    ]
    return build(
        "mlp-model-serving",
        "ML platform / Model serving",
        "Served models: traffic, latency and errors per model, version and predictor.",
        [label_variable("model", "Model", "model_infer_request_success_total")],
        [("Traffic", traffic), ("Latency", latency), ("Canary vs champion", canary)],
        [canary_decisions(SEL)],
    )
