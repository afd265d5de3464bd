"""Airflow running the recipe DAGs in local mode: `airflow standalone` on the platform's PostgreSQL.

One supervisord program (`airflow standalone`) runs the scheduler, DAG processor, API server and triggerer
with the LocalExecutor; its metadata lives in the `airflow` database, its DAG folder is `pipelines/recipes`
(each recipe beside its DAG file, as in the cluster's recipes ConfigMap), and its tasks run `mlflow run` and
the promoter as local subprocesses (`MLP_PIPELINES__MODE=local`). Passwords reach it only through
`environment()`; the admin's is generated into the secrets folder like every other.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx

from mlplatform.config import AirflowSettings
from mlplatform.runtime.service import Endpoint, Port, Service, write_if_changed
from mlplatform.tools import PROJECT_ROOT

PIPELINES = PROJECT_ROOT / "pipelines"
ADMIN_PASSWORD = "airflow-admin-password"


class Airflow(Service):
    name = "airflow"

    @property
    def options(self) -> AirflowSettings:
        return self.settings.airflow

    @property
    def passwords_file(self) -> str:
        return str(self.data_dir / "simple_auth_manager_passwords.json")

    def ports(self) -> list[Port]:
        a = self.options
        return [
            Port("airflow.port", a.port),
            Port("airflow.worker_log_port", a.worker_log_port),
            Port("airflow.trigger_log_port", a.trigger_log_port),
        ]

    def prepare(self) -> None:
        super().prepare()
        os.chmod(self.data_dir, 0o700)
        # The simple auth manager keeps a password it finds here instead of generating and printing one.
        secret = {self.options.admin_user: self.admin_password()}
        write_if_changed(self.data_dir / "simple_auth_manager_passwords.json", json.dumps(secret), mode=0o600)

    def admin_password(self) -> str:
        return self.credentials.generated(ADMIN_PASSWORD).get_secret_value()

    def argv(self) -> list[str]:
        return [str(self.tools.python_env("pipelines") / "bin" / "airflow"), "standalone"]

    @property
    def recipes_dir(self) -> Path:
        return self.options.recipes_dir or PIPELINES / "recipes"

    def environment(self) -> dict[str, str]:
        a, s = self.options, self.settings
        pg, host = s.postgres, s.host
        password = self.credentials.postgres_password().get_secret_value()
        venv_bin = self.tools.python_env("pipelines") / "bin"
        return {
            # standalone starts its components as `airflow …` from PATH: they must be this environment's.
            "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "AIRFLOW_HOME": str(self.data_dir),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.recipes_dir),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(a.parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(a.paused_at_creation),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{host}:{a.port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{a.admin_user}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": self.passwords_file,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
                f"postgresql+psycopg2://{pg.user}:{password}@{host}:{pg.port}/airflow"
            ),
            "AIRFLOW__API__HOST": host,
            "AIRFLOW__API__PORT": str(a.port),
            "AIRFLOW__API__SECRET_KEY": self.credentials.generated("airflow-api-secret-key").get_secret_value(),
            "AIRFLOW__API_AUTH__JWT_SECRET": self.credentials.generated("airflow-jwt-secret").get_secret_value(),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(a.worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(a.trigger_log_port),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            # StatsD to the local statsd_exporter, as the chart's Airflow sends it to its exporter.
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": host,
            "AIRFLOW__METRICS__STATSD_PORT": str(s.statsd_exporter.statsd_port),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
            # The pipelines' own settings: local mode against this platform.
            "MLP_PIPELINES__MODE": "local",
            "MLP_PIPELINES__RECIPES_DIR": str(self.recipes_dir),
            "MLP_PIPELINES__MLFLOW_TRACKING_URI": f"http://{host}:{s.mlflow.port}",
            "MLP_PIPELINES__PROMETHEUS_URL": f"http://{host}:{s.prometheus.port}",
            "MLP_PIPELINES__WAREHOUSE_DSN": f"host={host} port={pg.port} dbname=warehouse user={pg.user}",
            "WAREHOUSE_PASSWORD": password,
            # Batch prediction steps read and write files in MinIO (the task Secret's AWS_* in a cluster).
            **self.credentials.object_storage_env(),
        }

    def is_ready(self) -> bool:
        """The API answers and reports the metadata database and the scheduler healthy."""
        try:
            response = httpx.get(self.url(self.options.port, "/api/v2/monitor/health"), timeout=2.0)
            health = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return False
        components = ("metadatabase", "scheduler")
        return all(health.get(name, {}).get("status") == "healthy" for name in components)

    def endpoints(self) -> list[Endpoint]:
        secret = self.credentials.location / ADMIN_PASSWORD
        return [
            Endpoint(
                f"Airflow UI and API (user {self.options.admin_user}, password in {secret})",
                self.url(self.options.port),
            )
        ]
