"""The commands each step runs, the same in both modes; only where they run (pod or subprocess) differs."""

from __future__ import annotations

from pathlib import Path

from mlpipelines.recipe import Recipe, Scalar
from mlpipelines.settings import PipelineSettings

# `run_after`, not `ts_nodash`: runs triggered without a logical date (API, `mlp demo`) have no `ts_*`.
RUN_NAME = "{{ dag.dag_id }}-{{ dag_run.run_after.strftime('%Y%m%dT%H%M%S') }}"
# How the promoter compares the candidate with the champion (mlp_promoter.decision): a run started by new data
# or a signal (an asset) challenges the champion live, as a canary; manual and scheduled runs compare offline.
# A manual run may ask for either with `{"compare": "live"}` in its conf.
COMPARE = (
    "{{ (dag_run.conf or {}).get('compare') "
    "or ('live' if 'asset' in (dag_run.run_type | string | lower) else 'offline') }}"
)


def parameter_value(value: Scalar) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def project_uri(recipe: Recipe, settings: PipelineSettings) -> tuple[str, list[str]]:
    """What `mlflow run` gets as the project, and the options that pin its version."""
    if recipe.project.git is not None:
        return recipe.project.git.mlflow_uri(), ["--version", recipe.project.git.ref]
    assert recipe.project.path is not None
    if settings.is_local:
        return str(settings.repo_root / recipe.project.path), []
    return f"{settings.image_project_root.rstrip('/')}/{recipe.project.path}", []


def local_project_env(recipe: Recipe, settings: PipelineSettings) -> Path | None:
    """The virtual environment whose mlflow (and python) trains the project locally."""
    if recipe.project.path is not None:
        own = settings.repo_root / recipe.project.path / ".venv"
        if own.is_dir():
            return own
    return settings.python_env


def train_argv(recipe: Recipe, settings: PipelineSettings) -> list[str]:
    uri, version = project_uri(recipe, settings)
    mlflow = "mlflow"
    if settings.is_local:
        env = local_project_env(recipe, settings)
        mlflow = str(env / "bin" / "mlflow") if env else "mlflow"
    argv = [mlflow, "run", uri, *version, "-e", recipe.entry_point]
    for name, value in recipe.parameters.items():
        argv += ["-P", f"{name}={parameter_value(value)}"]
    return [*argv, "--env-manager", "local", "--experiment-name", recipe.experiment_name, "--run-name", RUN_NAME]


def promote_argv(recipe: Recipe, settings: PipelineSettings) -> list[str]:
    command = str(settings.promoter) if settings.is_local else "mlp-promote"
    argv = [
        command,
        "--experiment",
        recipe.experiment_name,
        "--model-name",
        recipe.registered_model,
        "--policy",
        recipe.promotion.to_json(),
        "--target",
        "local" if settings.is_local else "seldon",
        "--compare",
        COMPARE,
    ]
    return [*argv, *_target_options(settings)]


def judge_argv(recipe: Recipe, settings: PipelineSettings) -> list[str]:
    """`mlp-promote judge --wait`: ends the canary the promote step may have started (nothing to do otherwise)."""
    command = str(settings.promoter) if settings.is_local else "mlp-promote"
    argv = [command, "judge", "--model-name", recipe.registered_model, "--wait", "--prometheus-url"]
    return [
        *argv,
        settings.prometheus_url,
        "--target",
        "local" if settings.is_local else "seldon",
        *_target_options(settings),
    ]


def batch_argv(recipe: Recipe, settings: PipelineSettings) -> list[str]:
    """`mlp-batch-predict` as the recipe's `batch:` section asks for it."""
    batch = recipe.batch
    assert batch is not None
    command = str(settings.batch_predictor) if settings.is_local else "mlp-batch-predict"
    argv = [command, recipe.registered_model, "--output", batch.output, "--alias", batch.alias]
    for uri in batch.input:
        argv += ["--input", uri]
    return [*argv, "--chunk-rows", str(batch.chunk_rows)]


def _target_options(settings: PipelineSettings) -> list[str]:
    """In a cluster the promoter applies SeldonDeployments where the chart granted it, with its storage Secret."""
    if settings.is_local:
        return []
    return [
        "--namespace",
        settings.models_namespace,
        "--secret-name",
        settings.model_storage_secret,
        "--artifact-root",
        settings.artifact_root,
    ]


def plain_env(recipe: Recipe, settings: PipelineSettings) -> dict[str, str]:
    """Variables that are not secrets. In cluster mode MLflow's and S3's come from the task Secret instead."""
    env = {"MLFLOW_EXPERIMENT_NAME": recipe.experiment_name, "WAREHOUSE_DSN": settings.warehouse_dsn}
    if settings.is_local:
        env["MLFLOW_TRACKING_URI"] = settings.mlflow_tracking_uri
        if settings.mlflow_s3_endpoint_url:
            env["MLFLOW_S3_ENDPOINT_URL"] = settings.mlflow_s3_endpoint_url
    return env
