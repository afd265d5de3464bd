"""The data-quality gate against the real warehouse: passes on generated data, fails with a clear report."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest
import yaml
from mlplatform.config import Settings
from mlplatform.credentials import Credentials
from psycopg import sql

from tests.pipelines.helpers import BASE_RECIPE, PIPELINES_PYTHON, generate, scratch_table, warehouse_env


def gate(env: dict[str, str], recipes: Path, table: str, **data: object) -> subprocess.CompletedProcess[str]:
    recipe = yaml.safe_load(BASE_RECIPE.read_text())
    recipe["name"] = "gate-check"
    recipe["data"] = {**recipe["data"], "table": table, **data}
    (recipes / "gate-check.yaml").write_text(yaml.safe_dump(recipe))
    return subprocess.run(
        [str(PIPELINES_PYTHON), "-m", "mlpipelines.cli", "--recipes", str(recipes), "gate", "gate-check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def generated(platform: Settings, credentials: Credentials) -> str:
    table = scratch_table(credentials)
    generate(warehouse_env(platform, credentials), table, rows=1500, seed=3)
    return table


def test_gate_passes_on_generated_data(
    platform: Settings, credentials: Credentials, generated: str, tmp_path: Path
) -> None:
    result = gate(warehouse_env(platform, credentials), tmp_path, generated)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"data-quality gate PASSED for {generated}" in result.stdout
    assert "rows: 1500" in result.stdout


def test_gate_fails_on_too_few_rows(
    platform: Settings, credentials: Credentials, generated: str, tmp_path: Path
) -> None:
    result = gate(warehouse_env(platform, credentials), tmp_path, generated, min_rows=5000)
    assert result.returncode == 1
    assert "FAILED" in result.stdout
    assert "too few rows: 1500 < min_rows 5000" in result.stdout


def test_gate_fails_on_missing_column(platform: Settings, credentials: Credentials, tmp_path: Path) -> None:
    table = scratch_table(credentials, "id bigserial, account_id text, amount numeric(12,2), created_at timestamptz")
    result = gate(warehouse_env(platform, credentials), tmp_path, table, min_rows=0, max_null_share=0.0)
    assert result.returncode == 1
    assert "required columns missing: is_fraud (table has: account_id, amount, created_at, id)" in result.stdout


def test_gate_fails_on_null_share(platform: Settings, credentials: Credentials, tmp_path: Path) -> None:
    table = scratch_table(credentials)
    generate(warehouse_env(platform, credentials), table, rows=200, seed=4)
    schema, name = table.split(".")
    with psycopg.connect(credentials.postgres_dsn("warehouse"), autocommit=True) as conn:
        conn.execute(sql.SQL("UPDATE {} SET is_fraud = NULL WHERE id % 10 = 0").format(sql.Identifier(schema, name)))
    result = gate(warehouse_env(platform, credentials), tmp_path, table, min_rows=100)
    assert result.returncode == 1
    assert "column is_fraud: null share 0.1000 > max_null_share 0.05" in result.stdout


def test_gate_reports_missing_table(platform: Settings, credentials: Credentials, tmp_path: Path) -> None:
    result = gate(warehouse_env(platform, credentials), tmp_path, "nowhere.transactions")
    assert result.returncode == 1
    assert "table nowhere.transactions does not exist" in result.stdout
