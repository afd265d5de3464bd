"""Where pipelines run and what they connect to, read from `MLP_PIPELINES__*` variables.

`mode` is how the same DAGs run: `kubernetes` (each step a pod, credentials from Secrets) or `local`
(each step a subprocess on this machine, for the local platform and tests). Nothing here is a secret: the
warehouse password reaches tasks as the WAREHOUSE_PASSWORD variable (local) or a Secret (cluster).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MLP_PIPELINES__"
REPO_ROOT = Path(__file__).resolve().parents[3]


class PipelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    mode: Literal["kubernetes", "local"] = "kubernetes"
    recipes_dir: Path = Field(default=REPO_ROOT / "pipelines" / "recipes", description="Where recipes are read.")
    repo_root: Path = Field(default=REPO_ROOT, description="Base of recipes' relative project paths.")

    # -- Cluster mode: the chart's names (its ConfigMap mlp-pipelines-settings sets each of them) -------------
    namespace: str = "mlp"
    service_account: str = Field(default="mlp-pipelines", description="ServiceAccount of the training pods.")
    promoter_service_account: str = Field(
        default="mlp-promoter", description="ServiceAccount of the promote pods: may apply SeldonDeployments."
    )
    task_env_secret: str = Field(
        default="mlp-airflow-task-env",
        description="Secret with MLFLOW_TRACKING_URI, MLFLOW_S3_ENDPOINT_URL, AWS_* given to pods as env_from.",
    )
    warehouse_secret: str = Field(default="mlp-pg-warehouse", description="Secret holding the warehouse password.")
    warehouse_secret_key: str = "password"
    image_project_root: str = Field(
        default="/workspace", description="Where images hold the repository, for recipes with a local `path`."
    )
    promoter_image: str = "ghcr.io/mlplatform/promoter:0.1.0"
    model_runtime_image: str = Field(
        default="ghcr.io/mlplatform/model-runtime:0.1.0",
        description="The image of batch prediction pods (`mlp-batch-predict`, platform/runtimes/mlserver).",
    )
    image_pull_policy: str = "IfNotPresent"
    models_namespace: str = Field(default="mlp-models", description="Where the promoter applies SeldonDeployments.")
    model_storage_secret: str = Field(
        default="mlp-seldon-rclone", description="Secret in models_namespace: Seldon's S3 (rclone) settings."
    )
    artifact_root: str = Field(default="s3://mlflow", description="S3 location behind MLflow's artifact URIs.")

    # -- Both modes -----------------------------------------------------------------------------------
    warehouse_dsn: str = Field(
        default="host=mlp-pg-rw.mlp.svc port=5432 dbname=warehouse user=warehouse sslmode=require",
        description="libpq string without password: where tasks find the warehouse.",
    )
    prometheus_url: str = Field(
        default="http://mlp-monitoring-prometheus.mlp-system.svc:9090",
        description="The Prometheus the recipes' retraining signals query.",
    )
    mlflow_tracking_uri: str = Field(
        default="http://mlp-mlflow.mlp.svc:5000",
        description="The tracking server: local steps get it as MLFLOW_TRACKING_URI (pods from the task Secret).",
    )

    # -- Local mode -----------------------------------------------------------------------------------
    mlflow_s3_endpoint_url: str | None = Field(default=None, description="Local mode only; unset when proxied.")
    promoter: Path = Field(
        default=REPO_ROOT / "pipelines" / "promoter" / ".venv" / "bin" / "mlp-promote",
        description="The promoter's command in local mode; the promote step is skipped while it is absent.",
    )
    batch_predictor: Path = Field(
        default=REPO_ROOT / "platform" / "runtimes" / "mlserver" / ".venv" / "bin" / "mlp-batch-predict",
        description="Batch prediction's command in local mode (the model runtime's environment).",
    )
    python_env: Path | None = Field(
        default=None, description="Environment whose mlflow runs git projects locally (path projects use their own)."
    )

    @cached_property
    def is_local(self) -> bool:
        return self.mode == "local"
