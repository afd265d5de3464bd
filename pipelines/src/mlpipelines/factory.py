"""The DAG factory: every recipe becomes a DAG `debounce >> quality_gate >> train >> promote >> judge`, in either mode.

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
from airflow.sdk import DAG, Asset, AssetAny, AssetOrTimeSchedule, BaseOperator, CronTriggerTimetable, chain
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


def model_tag(recipe: Recipe) -> str:
    """The tag of every DAG that retrains the recipe's model: the model management API pauses them by it."""
    return f"mlp-model:{recipe.registered_model}"


def signal_asset(recipe: Recipe) -> Asset:
    return Asset(name=f"{recipe.name}-signal", uri=f"mlp://signals/{recipe.name}")


def schedule(recipe: Recipe) -> Any:
    """The cron schedule, new-data assets and the signal asset, combined: any of them starts a run."""
    triggers = recipe.triggers
    assets = [Asset(uri) for uri in triggers.assets]
    if triggers.signal or triggers.drift:
        assets.append(signal_asset(recipe))
    condition = AssetAny(*assets) if assets else None
    timetable = CronTriggerTimetable(triggers.cron, timezone="UTC") if triggers.cron else None
    if timetable and condition:
        return AssetOrTimeSchedule(timetable=timetable, assets=condition)
    return timetable or condition


def debounce_task(recipe: Recipe, settings: PipelineSettings) -> BaseOperator:
    return PythonOperator(
        task_id="debounce",
        python_callable=skippable(local.debounce),
        op_kwargs={
            "tracking_uri": settings.mlflow_tracking_uri,
            "experiment": recipe.experiment_name,
            "cooldown": recipe.triggers.cooldown,
            "run_type": "{{ dag_run.run_type }}",
        },
        retries=1,
        doc_md="Skips a run started by new data, a signal or drift while a training runs or within the recipe's "
        "cooldown of the last one: a persisting drift starts one retraining, not a storm.",
    )


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
    return pod_task("train", recipe, settings, recipe.image, argv, pods.resources(recipe), settings.service_account)


def pod_task(
    step: str,
    recipe: Recipe,
    settings: PipelineSettings,
    image: str,
    argv: list[str],
    resources: Any,
    service_account: str,
    **options: Any,
) -> BaseOperator:
    """A step as a pod in the pipelines' namespace: the step's image, command, resources and account, the
    recipe's variables and the task Secret, under the restricted Pod Security Standard."""
    return KubernetesPodOperator(
        task_id=options.pop("task_id", step),
        name=f"{step}-{recipe.name}",
        namespace=settings.namespace,
        image=image,
        image_pull_policy=settings.image_pull_policy,
        cmds=argv[:1],
        arguments=argv[1:],
        env_vars=pods.env_vars(commands.plain_env(recipe, settings), settings),
        env_from=pods.env_from(settings),
        container_resources=resources,
        service_account_name=service_account,
        security_context=pods.POD_SECURITY,
        container_security_context=pods.CONTAINER_SECURITY,
        labels=pods.labels(recipe, step),
        get_logs=True,
        on_finish_action="delete_succeeded_pod",
        **options,
    )


def promote_task(recipe: Recipe, settings: PipelineSettings) -> BaseOperator:
    return promoter_task("promote", commands.promote_argv(recipe, settings), recipe, settings)


def judge_task(recipe: Recipe, settings: PipelineSettings) -> BaseOperator:
    """Waits out the canary's window (and one extension) on live traffic, then finalizes or rolls it back."""
    window = recipe.promotion.canary.duration
    return promoter_task(
        "judge",
        commands.judge_argv(recipe, settings),
        recipe,
        settings,
        execution_timeout=timedelta(seconds=2 * window) + timedelta(minutes=10),
        doc_md="Judges the canary started by `promote` on its live traffic against the champion "
        "(`promotion.canary` of the recipe); without a canary it has nothing to do.",
    )


def promoter_task(
    task_id: str, argv: list[str], recipe: Recipe, settings: PipelineSettings, **options: Any
) -> BaseOperator:
    """A step of the promoter: a subprocess in local mode, a pod of the promoter's image and account in a cluster."""
    env = commands.plain_env(recipe, settings)
    if settings.is_local:
        return PythonOperator(
            task_id=task_id,
            python_callable=skippable(local.promote),
            op_kwargs={"argv": argv, "env": env},
            **options,
        )
    return pod_task(
        task_id,
        recipe,
        settings,
        settings.promoter_image,
        argv,
        pods.PROMOTER_RESOURCES,
        settings.promoter_service_account,
        **options,
    )


def build_dag(recipe: Recipe, settings: PipelineSettings) -> DAG:
    with DAG(
        dag_id=recipe.name,
        description=recipe.description or f"Train and promote the MLflow project of recipe {recipe.name}",
        schedule=schedule(recipe),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["mlp-recipe", settings.mode, model_tag(recipe), *recipe.tags],
        default_args={
            "owner": recipe.owner,
            "retries": recipe.retries,
            "retry_delay": timedelta(minutes=2),
            "execution_timeout": timedelta(minutes=recipe.timeout_minutes),
        },
        doc_md=f"Built from recipe `{recipe.name}.yaml` in {settings.mode} mode.",
    ) as dag:
        chain(
            debounce_task(recipe, settings),
            quality_gate_task(recipe, settings),
            train_task(recipe, settings),
            promote_task(recipe, settings),
            judge_task(recipe, settings),
        )
    return dag


def build_signal_dag(recipe: Recipe, settings: PipelineSettings) -> DAG | None:
    """Polls the recipe's Prometheus query; a value above the threshold emits the signal asset."""
    signal = recipe.triggers.signal
    if signal is None:
        return None
    return _watcher_dag(recipe, settings, "signal", signal.query, signal.threshold, signal.check_every)


def drift_query(model: str) -> str:
    """The largest feature PSI of the version under `champion` (the model-metrics exporter's series)."""
    return (
        f'max(mlp_model_feature_drift_psi{{model="{model}"}} '
        f'* on (model, version) group_left () mlp_model_alias_info{{model="{model}", alias="champion"}})'
    )


def build_drift_dag(recipe: Recipe, settings: PipelineSettings) -> DAG | None:
    """Polls the champion's feature drift; above the recipe's max_psi it emits the signal asset."""
    drift = recipe.triggers.drift
    if drift is None:
        return None
    query = drift_query(recipe.registered_model)
    return _watcher_dag(recipe, settings, "drift", query, drift.max_psi, drift.check_every)


def _watcher_dag(recipe: Recipe, settings: PipelineSettings, kind: str, query: str, threshold: float, cron: str) -> DAG:
    with DAG(
        dag_id=f"{recipe.name}-{kind}",
        description=f"Retrain {recipe.name} when `{query}` > {threshold}",
        schedule=CronTriggerTimetable(cron, timezone="UTC"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=[f"mlp-{kind}", model_tag(recipe), *recipe.tags],
    ) as dag:
        PythonOperator(
            task_id=f"check_{kind}",
            python_callable=skippable(local.check_signal),
            op_kwargs={"url": settings.prometheus_url, "query": query, "threshold": threshold},
            outlets=[signal_asset(recipe)],
            retries=1,
        )
    return dag


def build_batch_dag(recipe: Recipe, settings: PipelineSettings) -> DAG | None:
    """`<name>-batch`: the recipe's batch prediction on its schedule, with the model's alias (champion)."""
    batch = recipe.batch
    if batch is None:
        return None
    argv = commands.batch_argv(recipe, settings)
    env = commands.plain_env(recipe, settings)
    with DAG(
        dag_id=f"{recipe.name}-batch",
        description=f"Score {', '.join(batch.input)} with {recipe.registered_model}@{batch.alias}",
        schedule=CronTriggerTimetable(batch.cron, timezone="UTC"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["mlp-batch", settings.mode, *recipe.tags],
        default_args={"owner": recipe.owner, "retries": recipe.retries, "retry_delay": timedelta(minutes=2)},
        doc_md=f"Batch prediction of recipe `{recipe.name}.yaml` in {settings.mode} mode; a retry resumes.",
    ) as dag:
        if settings.is_local:
            PythonOperator(task_id="predict", python_callable=local.batch_predict, op_kwargs={"argv": argv, "env": env})
        else:
            image, resources = settings.model_runtime_image, pods.resources(batch)
            pod_task("batch", recipe, settings, image, argv, resources, settings.service_account, task_id="predict")
    return dag


def recipe_dags(dag_file: str | Path, settings: PipelineSettings | None = None) -> dict[str, DAG]:
    """The DAGs of the recipe beside `dag_file`; an invalid recipe raises RecipeError (the file's import error)."""
    recipe = load_recipe(recipe_beside(Path(dag_file)))
    settings = settings or PipelineSettings()
    dags = (
        build_dag(recipe, settings),
        build_signal_dag(recipe, settings),
        build_drift_dag(recipe, settings),
        build_batch_dag(recipe, settings),
    )
    return {dag.dag_id: dag for dag in dags if dag is not None}
