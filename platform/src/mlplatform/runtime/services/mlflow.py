"""The MLflow tracking server: runs in PostgreSQL, artifacts in MinIO served through the server.

Clients never need S3 credentials: with `--serve-artifacts` they upload and download through the
server (`mlflow-artifacts:` URIs), as in the cluster.
"""

from __future__ import annotations

import shutil

from mlplatform.runtime.service import Endpoint, Port, Service


class Mlflow(Service):
    name = "mlflow"

    @property
    def metrics_dir(self) -> str:
        return str(self.run_dir / "prometheus-multiproc")

    def ports(self) -> list[Port]:
        return [Port("mlflow.port", self.settings.mlflow.port)]

    def prepare(self) -> None:
        super().prepare()
        # Multiprocess metric files belong to one server lifetime; stale ones would double-count.
        shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def argv(self) -> list[str]:
        m = self.settings.mlflow
        return [
            str(self.tools.python_env("mlflow") / "bin" / "mlflow"),
            "server",
            "--host",
            self.settings.host,
            "--port",
            str(m.port),
            "--workers",
            str(m.workers),
            "--serve-artifacts",
            "--artifacts-destination",
            f"s3://{m.artifact_bucket}",
            "--expose-prometheus",
            self.metrics_dir,
        ]

    def environment(self) -> dict[str, str]:
        pg, host = self.settings.postgres, self.settings.host
        password = self.credentials.postgres_password().get_secret_value()
        storage = self.credentials.object_storage_env()
        return {
            "MLFLOW_BACKEND_STORE_URI": f"postgresql+psycopg2://{pg.user}:{password}@{host}:{pg.port}/mlflow",
            "MLFLOW_S3_ENDPOINT_URL": storage["AWS_ENDPOINT_URL"],
            "AWS_ACCESS_KEY_ID": storage["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": storage["AWS_SECRET_ACCESS_KEY"],
        }

    def is_ready(self) -> bool:
        return self.http_ok(self.settings.mlflow.port, "/health")

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("MLflow UI and API", self.url(self.settings.mlflow.port))]
