"""An MLflow run logged through the real server lands in PostgreSQL, its artifact in MinIO."""

from __future__ import annotations

from pathlib import Path

import mlflow
import psycopg
from mlplatform.config import Settings
from mlplatform.credentials import Credentials
from mlplatform.runtime.services.minio import Minio as MinioService

from tests.runtime.helpers import unique


def test_run_metadata_in_postgres_and_artifact_in_minio(
    platform: Settings, credentials: Credentials, tmp_path: Path
) -> None:
    mlflow.set_tracking_uri(f"http://{platform.host}:{platform.mlflow.port}")
    mlflow.set_experiment(unique("foundation"))
    artifact = tmp_path / "report.txt"
    artifact.write_text("accuracy report\n")
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("rmse", 0.125)
        mlflow.log_artifact(str(artifact))
    run_id = run.info.run_id

    with psycopg.connect(credentials.postgres_dsn("mlflow")) as conn:
        status = conn.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,)).fetchone()
        metric = conn.execute("SELECT value FROM metrics WHERE run_uuid = %s AND key = 'rmse'", (run_id,)).fetchone()
    assert status == ("FINISHED",)
    assert metric == (0.125,)

    client = MinioService(platform).client()
    objects = [o.object_name for o in client.list_objects(platform.mlflow.artifact_bucket, recursive=True)]
    stored = [name for name in objects if run_id in name and name.endswith("/artifacts/report.txt")]
    assert len(stored) == 1, objects
    body = client.get_object(platform.mlflow.artifact_bucket, stored[0]).read()
    assert body == b"accuracy report\n"
