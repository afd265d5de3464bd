"""Running the pipelines' and the example's own environments from the platform's tests (as subprocesses)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
from mlplatform.config import Settings
from mlplatform.credentials import Credentials
from psycopg import sql

from tests.runtime.helpers import unique

ROOT = Path(__file__).resolve().parents[2]
PIPELINES_PYTHON = ROOT / "pipelines" / ".venv" / "bin" / "python"
AIRFLOW = ROOT / "pipelines" / ".venv" / "bin" / "airflow"
EXAMPLE = ROOT / "examples" / "fraud-detection"
EXAMPLE_PYTHON = EXAMPLE / ".venv" / "bin" / "python"
BASE_RECIPE = ROOT / "pipelines" / "recipes" / "fraud-detection.yaml"


def warehouse_env(settings: Settings, credentials: Credentials) -> dict[str, str]:
    """What tasks get: where the warehouse is (no password in the DSN) and the password on its own."""
    pg = settings.postgres
    dsn = f"host={settings.host} port={pg.port} dbname=warehouse user={pg.user}"
    return {
        **os.environ,
        "WAREHOUSE_DSN": dsn,
        "MLP_PIPELINES__WAREHOUSE_DSN": dsn,
        "WAREHOUSE_PASSWORD": credentials.postgres_password().get_secret_value(),
    }


def scratch_table(credentials: Credentials, columns: str = "LIKE public.transactions INCLUDING ALL") -> str:
    """A fresh `schema.transactions` table of its own, so tests sharing the platform do not interfere."""
    schema = unique("pipes")
    with psycopg.connect(credentials.postgres_dsn("warehouse"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL(f"CREATE TABLE {{}} ({columns})").format(sql.Identifier(schema, "transactions")))
    return f"{schema}.transactions"


def generate(env: dict[str, str], table: str, rows: int, seed: int) -> str:
    result = subprocess.run(
        [str(EXAMPLE_PYTHON), "generate.py", "--rows", str(rows), "--seed", str(seed), "--table", table],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout
