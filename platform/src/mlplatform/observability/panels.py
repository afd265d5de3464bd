"""The dashboards' panel queries, evaluated against a Prometheus as Grafana would: what `mlp demo` reports
and what the live-panel test asserts (a panel has data when any of its queries returns a series)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from mlplatform.errors import PlatformError
from mlplatform.observability.paths import DASHBOARDS_DIR

# What Grafana would put in place of the variables: the chart's namespace, every model/processor/DAG.
VARIABLES = {
    "namespace": "mlp",
    "model": ".*",
    "processor": ".*",
    "dag_id": ".*",
    "__rate_interval": "1m",
    "__interval": "30s",
    "__range": "1h",
}
VARIABLE = re.compile(r"\$\{?(\w+)\}?")
LABEL_VALUES = re.compile(r"^label_values\((.+),\s*\w+\)$")


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    expr: str

    @property
    def id(self) -> str:
        return f"{self.dashboard} / {self.panel}"


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))]


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # collapsed rows hold their panels
    return [p for p in found if p.get("targets")]


def panel_queries() -> list[list[PanelQuery]]:
    """Per panel, its queries (a panel is empty only if all of them are)."""
    return [
        [PanelQuery(d["title"], p["title"], t["expr"]) for t in p["targets"]] for d in dashboards() for p in panels(d)
    ]


def variable_queries() -> list[PanelQuery]:
    """The selectors of the dashboards' label_values(...) variables, as instant queries."""
    found = []
    for d in dashboards():
        for variable in d.get("templating", {}).get("list", []):
            query = variable.get("query")
            text = query.get("query") if isinstance(query, dict) else query
            match = LABEL_VALUES.match(text or "")
            if variable.get("type") == "query" and match:
                found.append(PanelQuery(d["title"], f"variable {variable['name']}", match.group(1)))
    return found


def substitute(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in VARIABLES:
            raise PlatformError(f"unknown dashboard variable ${name} in {expr}: add it to panels.VARIABLES")
        return VARIABLES[name]

    return VARIABLE.sub(value, expr)


def evaluate(prometheus: str, expr: str) -> list[dict[str, Any]]:
    """Instant query result; PlatformError with Prometheus' own message when it rejects the query."""
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": substitute(expr)}, timeout=30)
    body = response.json()
    if response.status_code != 200 or body.get("status") != "success":
        raise PlatformError(f"{body.get('errorType')}: {body.get('error')} in {substitute(expr)}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def empty_panels(prometheus: str, panels: list[list[PanelQuery]]) -> list[list[PanelQuery]]:
    """The panels (each a list of its queries) none of whose queries returns a series."""
    return [queries for queries in panels if not any(evaluate(prometheus, q.expr) for q in queries)]


@dataclass
class Coverage:
    dashboard: str
    panels: int = 0
    empty: list[str] = field(default_factory=list)


def coverage(prometheus: str, panels: list[list[PanelQuery]] | None = None) -> list[Coverage]:
    """Per dashboard, how many panels it has and which of them have no data yet."""
    panels = panel_queries() if panels is None else panels
    empty = {queries[0].id for queries in empty_panels(prometheus, panels)}
    found: dict[str, Coverage] = {}
    for queries in panels:
        first = queries[0]
        entry = found.setdefault(first.dashboard, Coverage(first.dashboard))
        entry.panels += 1
        if first.id in empty:
            entry.empty.append(first.panel)
    return list(found.values())
