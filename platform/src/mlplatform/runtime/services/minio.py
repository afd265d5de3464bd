"""MinIO: the S3 object store holding MLflow artifacts and raw data, with its buckets created."""

from __future__ import annotations

from minio import Minio as MinioClient

from mlplatform.runtime.service import Endpoint, Port, Service


class Minio(Service):
    name = "minio"

    def ports(self) -> list[Port]:
        m = self.settings.minio
        return [Port("minio.port", m.port), Port("minio.console_port", m.console_port)]

    def argv(self) -> list[str]:
        m, host = self.settings.minio, self.settings.host
        return [
            str(self.tools.minio),
            "server",
            str(self.data_dir),
            "--address",
            f"{host}:{m.port}",
            "--console-address",
            f"{host}:{m.console_port}",
            "--quiet",
        ]

    def environment(self) -> dict[str, str]:
        return {
            "MINIO_ROOT_USER": self.settings.minio.root_user,
            "MINIO_ROOT_PASSWORD": self.credentials.minio_password().get_secret_value(),
            "MINIO_PROMETHEUS_AUTH_TYPE": "public",
            "MINIO_UPDATE": "off",
        }

    def is_ready(self) -> bool:
        return self.http_ok(self.settings.minio.port, "/minio/health/ready")

    def client(self) -> MinioClient:
        return MinioClient(
            f"{self.settings.host}:{self.settings.minio.port}",
            access_key=self.settings.minio.root_user,
            secret_key=self.credentials.minio_password().get_secret_value(),
            secure=False,
        )

    def initialize(self) -> None:
        client = self.client()
        for bucket in self.settings.minio.buckets:
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)

    def endpoints(self) -> list[Endpoint]:
        m = self.settings.minio
        return [
            Endpoint("MinIO S3 API", self.url(m.port)),
            Endpoint("MinIO console", self.url(m.console_port)),
        ]
