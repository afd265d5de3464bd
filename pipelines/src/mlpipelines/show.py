"""What a recipe becomes: the DAG's schedule, its tasks in order, and each task's pod spec or command."""

from __future__ import annotations

import contextlib
import io
import shlex
from collections.abc import Iterator
from typing import Any

import yaml
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG, TaskGroup
from kubernetes.client import ApiClient

from mlpipelines.factory import build_batch_dag, build_dag, build_drift_dag, build_signal_dag, signal_asset
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
    watchers = [f"{recipe.name}-{kind}" for kind in ("signal", "drift") if getattr(triggers, kind)]
    if watchers:
        starts.append(f"asset updated: {signal_asset(recipe).uri} (by DAG {' or '.join(watchers)})")
    return starts or ["manual only"]


def describe_dag(dag: DAG, schedule: list[str]) -> dict[str, Any]:
    return {
        "dag": dag.dag_id,
        "schedule": schedule,
        "description": dag.description,
        "tasks": [describe_task(task) for task in tasks_in_order(dag.task_group)],
    }


def tasks_in_order(group: TaskGroup) -> Iterator[Any]:
    """The tasks after their upstream ones, task groups flattened (what the deprecated DAG.topological_sort does)."""
    for node in group.topological_sort():
        if isinstance(node, TaskGroup):
            yield from tasks_in_order(node)
        else:
            yield node


def describe(recipe: Recipe, settings: PipelineSettings) -> str:
    dags = [
        (build_dag(recipe, settings), schedule_summary(recipe)),
        *(
            (dag, [f"cron {cron!r} (UTC)"])
            for dag, cron in (
                (build_signal_dag(recipe, settings), recipe.triggers.signal and recipe.triggers.signal.check_every),
                (build_drift_dag(recipe, settings), recipe.triggers.drift and recipe.triggers.drift.check_every),
                (build_batch_dag(recipe, settings), recipe.batch and recipe.batch.cron),
            )
            if dag is not None
        ),
    ]
    documents = [{"mode": settings.mode, **describe_dag(dag, schedule)} for dag, schedule in dags]
    return yaml.safe_dump_all(documents, sort_keys=False, width=120)
