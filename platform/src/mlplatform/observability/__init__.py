"""Observability of the platform: the MLflow model-metrics exporter, dashboards as code, alert rules' home.

The alert rules and dashboards live in the umbrella chart (`charts/mlplatform/rules/`, `dashboards/`), so the
cluster and the local Prometheus read the same files; this package generates the dashboards and runs the
exporter.
"""
