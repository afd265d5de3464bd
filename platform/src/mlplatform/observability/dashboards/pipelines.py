"""Pipelines: DAG run outcomes and durations, from Airflow's StatsD metrics through statsd_exporter.

Metric names are those of the Airflow chart's statsd_exporter mapping (`airflow_dagrun_duration` for
successful runs, `airflow_dagrun_failed` for failed ones, both timers with a `dag_id` label); the local
statsd_exporter uses the same mapping (mlplatform/observability/statsd-mapping.yaml).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from mlplatform.observability.dashboards.common import NS, RATE, Query, build, graph, label_variable, or_zero, single

FILE = "pipelines.json"
SEL = f'{NS}, dag_id=~"$dag_id"'
SUCCESS, FAILED = "airflow_dagrun_duration_count", "airflow_dagrun_failed_count"


def _by_dag(metric: str) -> str:
    return f"sum by (dag_id) ({metric}{{{SEL}}})"


def dashboard() -> db.Dashboard:
    failed = or_zero(_by_dag(FAILED), _by_dag(SUCCESS))
    succeeded = or_zero(_by_dag(SUCCESS), _by_dag(FAILED))
    outcomes = [
        single(
            "Successful DAG runs",
            "Runs that reached success since statsd_exporter started, per DAG.",
            [Query(succeeded, "{{dag_id}}")],
            width=12,
        ),
        single(
            "Failed DAG runs",
            "Runs that failed since statsd_exporter started, per DAG; AirflowDagRunFailed fires for an hour "
            "after each.",
            [Query(failed, "{{dag_id}}")],
            width=12,
            red_above=1,
        ),
        graph(
            "DAG run outcomes over time",
            "Cumulative successful and failed runs per DAG: a step is a finished run.",
            [Query(succeeded, "{{dag_id}} success"), Query(failed, "{{dag_id}} failed")],
        ),
        graph(
            "DAG runs finished per hour",
            "Finished runs per DAG and outcome, as an hourly rate.",
            [
                Query(f"3600 * sum by (dag_id) (rate({SUCCESS}{{{SEL}}}[{RATE}]))", "{{dag_id}} success"),
                Query(f"3600 * sum by (dag_id) (rate({FAILED}{{{SEL}}}[{RATE}]))", "{{dag_id}} failed"),
            ],
        ),
    ]
    durations = [
        graph(
            "Mean successful DAG run duration",
            "Mean time from start to success per DAG, over the runs statsd_exporter has seen.",
            [
                Query(
                    f"max by (dag_id) (airflow_dagrun_duration_sum{{{SEL}}} / airflow_dagrun_duration_count{{{SEL}}})",
                    "{{dag_id}}",
                )
            ],
            unit="s",
            width=24,
        ),
    ]
    return build(
        "mlp-pipelines",
        "ML platform / Pipelines",
        "Airflow DAG runs: outcomes and durations.",
        [label_variable("dag_id", "DAG", '{__name__=~"airflow_dagrun_duration_count|airflow_dagrun_failed_count"}')],
        [("Outcomes", outcomes), ("Durations", durations)],
    )
