"""What the champion and the canary did over the judge's window, read from Prometheus.

One set of queries for both platforms: the series come from the scoring processor (every model call, by the
version it was sent to, and its outcome) and from the model-metrics exporter (the prediction log's scores and,
where outcome labels arrive, each prediction's outcome), which run alike on the laptop and in the cluster.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx

from mlp_promoter.errors import MeasurementError
from mlp_promoter.judge import Measured

CALLS = "mlp_stream_model_call_seconds"
SCORES = "mlp_model_prediction_bucket"
OUTCOMES = "mlp_model_outcomes_total"


def queries(model: str, versions: list[str], window_seconds: int) -> dict[str, str]:
    """The PromQL of each measurement, by name (shown in the judgement, so anyone can rerun them)."""
    selector = f'model="{_escape(model)}", version=~"{"|".join(_escape(v) for v in versions)}"'
    window = f"[{window_seconds}s]"
    return {
        "calls": f"sum by (version) (increase({CALLS}_count{{{selector}}}{window}))",
        "failed": f'sum by (version) (increase({CALLS}_count{{{selector}, outcome!="ok"}}{window}))',
        "latency_p99": (
            f"histogram_quantile(0.99, sum by (version, le) "
            f'(increase({CALLS}_bucket{{{selector}, outcome="ok"}}{window})))'
        ),
        "scores": f"sum by (version, le) (increase({SCORES}{{{selector}}}{window}))",
        "outcomes": f"sum by (version, outcome) (increase({OUTCOMES}{{{selector}}}{window}))",
    }


Query = Callable[[str, str], list[tuple[dict[str, str], float]]]


def measure(
    prometheus_url: str, model: str, versions: list[str], window_seconds: int, query: Query | None = None
) -> dict[str, Measured]:
    """Each version's Measured over the last `window_seconds` (`query` answers instant queries: Prometheus's API)."""
    ask = query or instant
    found: dict[str, dict[str, Any]] = {v: {"scores": [], "outcomes": {}} for v in versions}
    for name, promql in queries(model, versions, window_seconds).items():
        for labels, value in ask(prometheus_url, promql):
            version = labels.get("version", "")
            if version not in found:
                continue
            if name == "scores":
                found[version]["scores"].append((_bound(labels["le"]), value))
            elif name == "outcomes":
                found[version]["outcomes"][labels.get("outcome", "")] = value
            elif name == "latency_p99":
                found[version][name] = value if value == value else None  # NaN: no successful call
            else:
                found[version][name] = value
    return {
        version: Measured(
            calls=values.get("calls", 0.0),
            failed=values.get("failed", 0.0),
            latency_p99=values.get("latency_p99"),
            scores=tuple(sorted(values["scores"])),
            outcomes=dict(values["outcomes"]),
        )
        for version, values in found.items()
    }


def instant(url: str, query: str) -> list[tuple[dict[str, str], float]]:
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/v1/query", params={"query": query}, timeout=30)
    except httpx.HTTPError as exc:
        raise MeasurementError(
            f"cannot reach Prometheus at {url} ({type(exc).__name__}): set --prometheus-url (or "
            "MLP_PROMOTER_PROMETHEUS_URL) to the Prometheus that scrapes the scoring processor and the exporter"
        ) from exc
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code != 200 or body.get("status") != "success":
        raise MeasurementError(f"Prometheus refused {query!r}: {body.get('error') or response.text[:300]}")
    return [(item["metric"], float(item["value"][1])) for item in body["data"]["result"]]


def _bound(text: str) -> float:
    return float("inf") if text == "+Inf" else float(text)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def by_version(measured: dict[str, Measured]) -> dict[str, dict[str, Any]]:
    """Measurements as plain data for the audit tag (score histograms summarised by their count)."""
    summary: dict[str, dict[str, Any]] = defaultdict(dict)
    for version, m in measured.items():
        summary[version] = {
            "calls": round(m.calls, 1),
            "failed": round(m.failed, 1),
            "latency_p99_seconds": m.latency_p99,
            "scores": round(m.scores[-1][1], 1) if m.scores else 0,
            "labelled": round(m.labelled, 1),
        }
    return dict(summary)
