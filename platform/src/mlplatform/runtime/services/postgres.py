"""PostgreSQL in its own data directory: MLflow's and Airflow's metadata, the demo warehouse.

Configured for logical replication so Debezium can capture changes. PostgreSQL refuses to run as
root; when mlp is root the server runs as `settings.postgres.os_user` and owns its directories.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile

import psycopg
from psycopg import sql

from mlplatform.errors import PlatformError
from mlplatform.runtime.service import Endpoint, Port, Service
from mlplatform.tools import PROJECT_ROOT

#: Per-database schema files run by every `up` (they must be idempotent).
SCHEMAS = {"warehouse": PROJECT_ROOT / "platform" / "runtimes" / "postgres" / "warehouse.sql"}


class Postgres(Service):
    name = "postgres"
    stop_signal = "INT"

    def ports(self) -> list[Port]:
        return [Port("postgres.port", self.settings.postgres.port)]

    def os_user(self) -> str | None:
        return self.settings.postgres.os_user if os.geteuid() == 0 else None

    def prepare(self) -> None:
        super().prepare()
        user = self.os_user()
        if user:
            self._check_reachable(user)
            account = pwd.getpwnam(user)
            for path in (self.data_dir, self.run_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
        os.chmod(self.data_dir, 0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(user)

    def _initdb(self, user: str | None) -> None:
        password = self.credentials.postgres_password().get_secret_value()
        with tempfile.NamedTemporaryFile("w", dir=self.run_dir, delete=False) as pwfile:
            pwfile.write(password)
        try:
            if user:
                account = pwd.getpwnam(user)
                os.chown(pwfile.name, account.pw_uid, account.pw_gid)
            subprocess.run(
                [
                    str(self.tools.postgres_bin / "initdb"),
                    "--pgdata",
                    str(self.data_dir),
                    "--username",
                    self.settings.postgres.user,
                    "--pwfile",
                    pwfile.name,
                    "--auth-host",
                    "scram-sha-256",
                    "--auth-local",
                    "scram-sha-256",
                    "--encoding",
                    "UTF8",
                    "--no-instructions",
                ],
                check=True,
                capture_output=True,
                text=True,
                user=user,
            )
        except subprocess.CalledProcessError as exc:
            raise PlatformError(f"initdb failed for {self.data_dir}:\n{exc.stderr}") from exc
        finally:
            os.unlink(pwfile.name)

    def _check_reachable(self, user: str) -> None:
        """The server's account must be able to enter every parent of its data directory."""
        for parent in reversed(self.data_dir.parents):
            mode = parent.stat().st_mode
            if not mode & 0o001:
                raise PlatformError(
                    f"PostgreSQL runs as '{user}' (it refuses root), and '{user}' cannot enter {parent}. "
                    f"Set MLP_HOME to a folder outside {parent} (the default for root is /var/lib/mlp)."
                )

    def argv(self) -> list[str]:
        pg = self.settings.postgres
        options = {
            "port": pg.port,
            "listen_addresses": self.settings.host,
            "unix_socket_directories": str(self.run_dir),
            "wal_level": "logical",
            "max_wal_senders": 10,
            "max_replication_slots": 10,
            "max_connections": 200,
            "shared_buffers": "128MB",
        }
        argv = [str(self.tools.postgres_bin / "postgres"), "-D", str(self.data_dir)]
        for key, value in options.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def is_ready(self) -> bool:
        try:
            with psycopg.connect(self.credentials.postgres_dsn("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def initialize(self) -> None:
        with psycopg.connect(self.credentials.postgres_dsn("postgres"), autocommit=True) as conn:
            existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            for database in self.settings.postgres.databases:
                if database not in existing:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        for database, schema in SCHEMAS.items():
            if database in self.settings.postgres.databases:
                with psycopg.connect(self.credentials.postgres_dsn(database), autocommit=True) as conn:
                    conn.execute(schema.read_text())

    def endpoints(self) -> list[Endpoint]:
        pg = self.settings.postgres
        return [Endpoint("PostgreSQL", f"postgresql://{pg.user}@{self.settings.host}:{pg.port}/")]
