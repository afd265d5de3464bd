"""What every platform dashboard shares: data source and template variables, panel shapes, selectors.

Every query selects `namespace=~"$namespace"` (the label the chart's monitors and the local Prometheus add),
and model-scoped ones `model=~"$model"`, a variable filled from the metrics themselves: a newly promoted
model appears in the drop-down without editing a dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
NS = 'namespace=~"$namespace"'
RATE = "$__rate_interval"
ALL = model.VariableOption(selected=True, text="All", value="$__all")


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


def datasource_variable() -> db.DatasourceVariable:
    return db.DatasourceVariable("datasource").label("Data source").type("prometheus")


def namespace_variable() -> db.QueryVariable:
    """The platform's namespace; locally every target carries namespace="mlp" too."""
    return (
        db.QueryVariable("namespace")
        .label("Namespace")
        .datasource(DATASOURCE)
        .query("label_values(up, namespace)")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .current(model.VariableOption(selected=True, text="mlp", value="mlp"))
    )


def label_variable(name: str, label: str, metric: str) -> db.QueryVariable:
    """A multi-value variable of a label's values in `metric`, "All" by default."""
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(f"label_values({_select(metric, NS)}, {name})")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(ALL)
    )


def _select(metric: str, matchers: str) -> str:
    """`metric{matchers}`, or the matchers added to a selector that already has braces."""
    if metric.endswith("}"):
        return f"{metric[:-1]}, {matchers}}}"
    return f"{metric}{{{matchers}}}"


def _targets(queries: Sequence[Query], instant: bool = False) -> list[prometheus.Dataquery]:
    found = []
    for i, q in enumerate(queries):
        target = prometheus.Dataquery().expr(q.expr).legend_format(q.legend).ref_id(chr(ord("A") + i))
        found.append(target.instant() if instant else target.range())
    return found


def graph(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str = "short",
    width: int = 12,
    threshold: float | None = None,
) -> timeseries.Panel:
    """A time series panel; `threshold` draws the alert threshold as a dashed red line."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(8)
        .line_width(1)
        .fill_opacity(10)
    )
    for target in _targets(queries):
        panel = panel.with_target(target)
    if threshold is not None:
        panel = panel.thresholds(
            db.ThresholdsConfig()
            .mode(model.ThresholdsMode.ABSOLUTE)
            .steps([model.Threshold(None, "green"), model.Threshold(threshold, "red")])
        ).thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
    return panel


def single(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str = "short",
    width: int = 6,
    red_above: float | None = None,
    text_mode: common.BigValueTextMode = common.BigValueTextMode.AUTO,
) -> stat.Panel:
    """A stat panel of instant values; `red_above` turns it red from that value on."""
    steps = [model.Threshold(None, "green")]
    if red_above is not None:
        steps.append(model.Threshold(red_above, "red"))
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(5)
        .text_mode(text_mode)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(db.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
    )
    for target in _targets(queries, instant=True):
        panel = panel.with_target(target)
    return panel


def distribution(title: str, description: str, query: Query, width: int = 12) -> bargauge.Panel:
    """Bucket counts of a histogram as bars, one per upper bound."""
    target = _targets([query], instant=True)[0].format(PromQueryFormat.HEATMAP)
    return (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .span(width)
        .height(8)
        .unit("short")
        .with_target(target)
    )


def build(
    uid: str,
    title: str,
    description: str,
    variables: Sequence[cogbuilder.Builder[model.VariableModel]],
    rows: Sequence[tuple[str, Sequence[cogbuilder.Builder[model.Panel]]]],
    annotations: Sequence[db.AnnotationQuery] = (),
) -> db.Dashboard:
    """A dashboard with the platform's conventions: UTC, 30s refresh, last 3 hours, read-only."""
    dashboard = (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["mlplatform"])
        .timezone("utc")
        .refresh("30s")
        .time("now-3h", "now")
        .readonly()
        .with_variable(datasource_variable())
        .with_variable(namespace_variable())
    )
    for variable in variables:
        dashboard = dashboard.with_variable(variable)
    for annotation in annotations:
        dashboard = dashboard.annotation(annotation)
    for row_title, panels in rows:
        dashboard = dashboard.with_row(db.Row(row_title))
        for panel in panels:
            dashboard = dashboard.with_panel(panel)
    return dashboard


def canary_decisions(selector: str) -> db.AnnotationQuery:
    """The canary judge's decisions (finalized, rolled_back), marked on every graph for two minutes after each."""
    return (
        db.AnnotationQuery()
        .name("Canary decisions")
        .datasource(DATASOURCE)
        .enable(True)
        .icon_color("orange")
        .expr(f"(time() - mlp_model_canary_judged_timestamp_seconds{{{selector}}}) < 120")
    )


def rate_by(metric: str, by: str, selector: str, window: str = RATE) -> str:
    return f"sum by ({by}) (rate({metric}{{{selector}}}[{window}]))"


def or_zero(expr: str, fallback: str) -> str:
    """`expr`, or 0 for each series of `fallback` when `expr` has none yet (counters created on first use)."""
    return f"({expr} or 0 * {fallback})"
