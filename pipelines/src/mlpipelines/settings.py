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

    # -- Cluster mode ---------------------------------------------------------------------------------
    namespace: str = "mlp"
    service_account: str = "mlp-pipelines"
    task_env_secret: str = Field(
        default="mlp-airflow-task-env",
        description="Secret with MLFLOW_TRACKING_URI, MLFLOW_S3_ENDPOINT_URL, AWS_* given to pods as env_from.",
    )
    warehouse_secret: str = Field(default="mlp-pg-warehouse", description="Secret holding the warehouse password.")
    warehouse_secret_key: str = "password"
    image_project_root: str = Field(
        default="/workspace", description="Where images hold the repository, for recipes with a local `path`."
    )
    promoter_image: str = "ghcr.io/mlplatform/mlp-promoter:0.1.0"
    image_pull_policy: str = "IfNotPresent"

    # -- Both modes -----------------------------------------------------------------------------------
    warehouse_dsn: str = Field(
        default="host=mlp-pg-rw.mlp.svc port=5432 dbname=warehouse user=warehouse sslmode=require",
        description="libpq string without password: where tasks find the warehouse.",
    )
    prometheus_url: str = "http://mlp-prometheus.mlp.svc:9090"

    # -- Local mode -----------------------------------------------------------------------------------
    mlflow_tracking_uri: str = Field(default="http://127.0.0.1:5000", description="Local mode only.")
    mlflow_s3_endpoint_url: str | None = Field(default=None, description="Local mode only; unset when proxied.")
    promoter: Path = Field(
        default=REPO_ROOT / "pipelines" / "promoter" / ".venv" / "bin" / "mlp-promote",
        description="The promoter's command in local mode; the promote step is skipped while it is absent.",
    )
    python_env: Path | None = Field(
        default=None, description="Environment whose mlflow runs git projects locally (path projects use their own)."
    )

    @cached_property
    def is_local(self) -> bool:
        return self.mode == "local"
