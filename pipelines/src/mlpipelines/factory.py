"""The DAG factory: every recipe becomes a DAG `quality_gate >> train >> promote`, in either mode.

Each recipe `NAME.yaml` has a DAG file of its own beside it, `NAME.py` (`recipe.DAG_FILE`), which calls
`recipe_dags(__file__)`. Airflow's import errors are per file: an invalid recipe is an import error of its own
DAG file that names the recipe and the field, and every other recipe's DAGs keep working.

The mode comes from configuration (`MLP_PIPELINES__MODE`), never from editing DAGs: `kubernetes` runs train and
promote as pods (KubernetesPodOperator), `local` as subprocesses of the worker. A recipe with a Prometheus
signal also gets a small watcher DAG that emits the asset the training DAG listens to.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Asset, AssetAny, AssetOrTimeSchedule, BaseOperator, CronTriggerTimetable
from airflow.sdk.exceptions import AirflowSkipException

from mlpipelines import commands, local, pods
from mlpipelines.recipe import Recipe, load_recipe, recipe_beside
from mlpipelines.settings import PipelineSettings

START = datetime(2026, 1, 1)


def skippable(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn local.Skip into Airflow's skip, so local.py stays importable without Airflow."""

    @wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except local.Skip as exc:
            raise AirflowSkipException(str(exc)) from None

    return call


def signal_asset(recipe: Recipe) -> Asset:
    return Asset(name=f"{recipe.name}-signal", uri=f"mlp://signals/{recipe.name}")


def schedule(recipe: Recipe) -> Any:
    """The cron schedule, new-data assets and the signal asset, combined: any of them starts a run."""
    triggers = recipe.triggers
    assets = [Asset(uri) for uri in triggers.assets]
    if triggers.signal:
        assets.append(signal_asset(recipe))
    condition = AssetAny(*assets) if assets else None
    timetable = CronTriggerTimetable(triggers.cron, timezone="UTC") if triggers.cron else None
    if timetable and condition:
        return AssetOrTimeSchedule(timetable=timetable, assets=condition)
    return timetable or condition


def quality_gate_task(recipe: Recipe, settings: PipelineSettings) -> BaseOperator:
    return PythonOperator(
        task_id="quality_gate",
        python_callable=local.quality_gate,
        op_kwargs={
            "dsn": settings.warehouse_dsn,
            "checks": recipe.data.model_dump(mode="json") if recipe.data else None,
        },
        retries=0,
        doc_md="Fails the run before training when the table breaks the recipe's data checks.",
    )


def train_task(recipe: Recipe, settings: PipelineSettings) -> BaseOperator:
    argv = commands.train_argv(recipe, settings)
    env = commands.plain_env(recipe, settings)
    if settings.is_local:
        venv = commands.local_project_env(recipe, settings)
        return PythonOperator(
            task_id="train",
            python_callable=local.train,
            op_kwargs={"argv": argv, "env": env, "venv": str(venv) if venv else None},
        )
    return KubernetesPodOperator(
        task_id="train",
        name=f"train-{recipe.name}",
        namespace=settings.namespace,
        image=recipe.image,
        image_pull_policy=settings.image_pull_policy,
        cmds=argv[:1],
        arguments=argv[1:],
        env_vars=pods.env_vars(env, settings),
        env_from=pods.env_from(settings),
        container_resources=pods.resources(recipe),
        service_account_name=settings.service_account,
        security_context=pods.POD_SECURITY,
        container_security_context=pods.CONTAINER_SECURITY,
        labels=pods.labels(recipe, "train"),
        get_logs=True,
        on_finish_action="delete_succeeded_pod",
    )


def promote_task(recipe: Recipe, settings: PipelineSettings) -> BaseOperator:
    argv = commands.promote_argv(recipe, settings)
    env = commands.plain_env(recipe, settings)
    if settings.is_local:
        return PythonOperator(
            task_id="promote", python_callable=skippable(local.promote), op_kwargs={"argv": argv, "env": env}
        )
    return KubernetesPodOperator(
        task_id="promote",
        name=f"promote-{recipe.name}",
        namespace=settings.namespace,
        image=settings.promoter_image,
        image_pull_policy=settings.image_pull_policy,
        cmds=argv[:1],
        arguments=argv[1:],
        env_vars=pods.env_vars(env, settings),
        env_from=pods.env_from(settings),
        container_resources=pods.PROMOTER_RESOURCES,
        service_account_name=settings.promoter_service_account,
        security_context=pods.POD_SECURITY,
        container_security_context=pods.CONTAINER_SECURITY,
        labels=pods.labels(recipe, "promote"),
        get_logs=True,
        on_finish_action="delete_succeeded_pod",
    )


def build_dag(recipe: Recipe, settings: PipelineSettings) -> DAG:
    with DAG(
        dag_id=recipe.name,
        description=recipe.description or f"Train and promote the MLflow project of recipe {recipe.name}",
        schedule=schedule(recipe),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["mlp-recipe", settings.mode, *recipe.tags],
        default_args={
            "owner": recipe.owner,
            "retries": recipe.retries,
            "retry_delay": timedelta(minutes=2),
            "execution_timeout": timedelta(minutes=recipe.timeout_minutes),
        },
        doc_md=f"Built from recipe `{recipe.name}.yaml` in {settings.mode} mode.",
    ) as dag:
        quality_gate_task(recipe, settings) >> train_task(recipe, settings) >> promote_task(recipe, settings)
    return dag


def build_signal_dag(recipe: Recipe, settings: PipelineSettings) -> DAG | None:
    """Polls the recipe's Prometheus query; a value above the threshold emits the signal asset."""
    signal = recipe.triggers.signal
    if signal is None:
        return None
    with DAG(
        dag_id=f"{recipe.name}-signal",
        description=f"Retrain {recipe.name} when `{signal.query}` > {signal.threshold}",
        schedule=CronTriggerTimetable(signal.check_every, timezone="UTC"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["mlp-signal", *recipe.tags],
    ) as dag:
        PythonOperator(
            task_id="check_signal",
            python_callable=skippable(local.check_signal),
            op_kwargs={"url": settings.prometheus_url, "query": signal.query, "threshold": signal.threshold},
            outlets=[signal_asset(recipe)],
            retries=1,
        )
    return dag


def recipe_dags(dag_file: str | Path, settings: PipelineSettings | None = None) -> dict[str, DAG]:
    """The DAGs of the recipe beside `dag_file`; an invalid recipe raises RecipeError (the file's import error)."""
    recipe = load_recipe(recipe_beside(Path(dag_file)))
    settings = settings or PipelineSettings()
    dags = (build_dag(recipe, settings), build_signal_dag(recipe, settings))
    return {dag.dag_id: dag for dag in dags if dag is not None}
