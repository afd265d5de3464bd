"""Airflow (airflow discovers DAG files by those words) finds here one DAG per recipe in pipelines/recipes."""

from mlpipelines.factory import build_dags

globals().update(build_dags())
