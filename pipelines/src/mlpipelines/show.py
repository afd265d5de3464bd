"""What a recipe becomes: the DAG's schedule, its tasks in order, and each task's pod spec or command."""

from __future__ import annotations

import contextlib
import io
import shlex
from typing import Any

import yaml
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG
from kubernetes.client import ApiClient

from mlpipelines.factory import build_dag, build_signal_dag, signal_asset
from mlpipelines.recipe import Recipe
from mlpipelines.settings import PipelineSettings


def pod_manifest(task: KubernetesPodOperator) -> dict[str, Any]:
    """The pod the operator would create; the random name suffix is dropped so output is stable."""
    with contextlib.redirect_stdout(io.StringIO()):  # the operator logs "Building pod" to stdout
        request = task.build_pod_request_obj(dry_run=True)
    pod = ApiClient().sanitize_for_serialization(request)
    pod["metadata"]["name"] = task.name
    pod["metadata"]["labels"].pop("airflow_version", None)
    return dict(pod)


def describe_task(task: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"task": task.task_id, "after": sorted(task.upstream_task_ids)}
    if isinstance(task, KubernetesPodOperator):
        entry["runs"] = "pod (KubernetesPodOperator)"
        entry["pod"] = pod_manifest(task)
        return entry
    kwargs = task.op_kwargs
    if "argv" in kwargs:
        entry["runs"] = "local subprocess"
        entry["command"] = shlex.join(kwargs["argv"])
        entry["env"] = kwargs.get("env", {})
    else:
        entry["runs"] = f"in the Airflow worker ({task.python_callable.__name__})"
        entry["arguments"] = kwargs
    return entry


def schedule_summary(recipe: Recipe) -> list[str]:
    """The ways a run starts, in words (any one of them is enough)."""
    triggers, starts = recipe.triggers, []
    if triggers.cron:
        starts.append(f"cron {triggers.cron!r} (UTC)")
    starts += [f"asset updated: {uri}" for uri in triggers.assets]
    if triggers.signal:
        starts.append(f"asset updated: {signal_asset(recipe).uri} (by DAG {recipe.name}-signal)")
    return starts or ["manual only"]


def describe_dag(dag: DAG, schedule: list[str]) -> dict[str, Any]:
    return {
        "dag": dag.dag_id,
        "schedule": schedule,
        "description": dag.description,
        "tasks": [describe_task(task) for task in dag.topological_sort()],
    }


def describe(recipe: Recipe, settings: PipelineSettings) -> str:
    documents = [{"mode": settings.mode, **describe_dag(build_dag(recipe, settings), schedule_summary(recipe))}]
    watcher = build_signal_dag(recipe, settings)
    if watcher is not None and recipe.triggers.signal is not None:
        signal = recipe.triggers.signal
        documents.append({"mode": settings.mode, **describe_dag(watcher, [f"cron {signal.check_every!r} (UTC)"])})
    return yaml.safe_dump_all(documents, sort_keys=False, width=120)
