"""Passwords: generated once into files only their owner can read, and never printed or logged.

A password given through the environment (`MLP_POSTGRES__PASSWORD`, `MLP_MINIO__ROOT_PASSWORD`)
wins over the generated one; it must then stay the same for the life of the data it protects.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from mlplatform.config import Settings


class Credentials:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def location(self) -> Path:
        return self._settings.secrets_dir

    def postgres_password(self) -> SecretStr:
        return self._settings.postgres.password or self._stored("postgres-password")

    def minio_password(self) -> SecretStr:
        return self._settings.minio.root_password or self._stored("minio-root-password")

    def postgres_dsn(self, database: str) -> str:
        """A libpq connection string; it holds the password, so it is never logged."""
        pg = self._settings.postgres
        return (
            f"host={self._settings.host} port={pg.port} dbname={database} user={pg.user} "
            f"password={self.postgres_password().get_secret_value()}"
        )

    def object_storage_env(self) -> dict[str, str]:
        """MinIO for S3 clients (the AWS SDKs' and pyarrow's variables); it holds the password: never log it."""
        return {
            "AWS_ENDPOINT_URL": f"http://{self._settings.host}:{self._settings.minio.port}",
            "AWS_ACCESS_KEY_ID": self._settings.minio.root_user,
            "AWS_SECRET_ACCESS_KEY": self.minio_password().get_secret_value(),
        }

    def generated(self, name: str) -> SecretStr:
        """A secret of a service's own (an admin password, a signing key), created on first use."""
        return self._stored(name)

    def _stored(self, name: str) -> SecretStr:
        path = self.location / name
        if not path.exists():
            self.location.mkdir(parents=True, exist_ok=True)
            os.chmod(self.location, 0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(24))
        return SecretStr(path.read_text().strip())
