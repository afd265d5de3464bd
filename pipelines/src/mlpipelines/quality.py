"""The data-quality gate: checks the training table before any pod starts, and says exactly what is wrong.

It runs in Airflow's worker (both modes) against the real table: required columns exist, the table has
enough rows, and no required column has more nulls than the recipe allows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from mlpipelines.recipe import DataQuality

PASSWORD_VARIABLE = "WAREHOUSE_PASSWORD"


class DataQualityError(RuntimeError):
    """The gate failed; the message is the report."""


@dataclass
class QualityReport:
    table: str
    rows: int | None = None
    null_shares: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def render(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"data-quality gate {verdict} for {self.table}"]
        if self.rows is not None:
            lines.append(f"  rows: {self.rows}")
        lines += [f"  null share of {column}: {share:.4f}" for column, share in self.null_shares.items()]
        lines += [f"  ✗ {failure}" for failure in self.failures]
        return "\n".join(lines)


def connect(dsn: str) -> psycopg.Connection:
    """`dsn` holds no password; it comes from WAREHOUSE_PASSWORD when set."""
    password = os.environ.get(PASSWORD_VARIABLE)
    extra: dict[str, Any] = {"password": password} if password else {}
    return psycopg.connect(dsn, connect_timeout=10, **extra)


def inspect(conn: psycopg.Connection, checks: DataQuality) -> QualityReport:
    report = QualityReport(checks.table)
    schema, _, table = checks.table.rpartition(".")
    schema = schema or "public"
    columns = {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (schema, table),
        )
    }
    if not columns:
        report.failures.append(f"table {checks.table} does not exist (or has no columns visible to this user)")
        return report
    missing = [column for column in checks.required_columns if column not in columns]
    if missing:
        report.failures.append(
            f"required columns missing: {', '.join(missing)} (table has: {', '.join(sorted(columns))})"
        )
    present = [column for column in checks.required_columns if column in columns]
    counts = [sql.SQL("count(*)")] + [sql.SQL("count({})").format(sql.Identifier(column)) for column in present]
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(counts), sql.Identifier(schema, table))
    row = conn.execute(query).fetchone()
    assert row is not None
    report.rows = int(row[0])
    if report.rows < checks.min_rows:
        report.failures.append(f"too few rows: {report.rows} < min_rows {checks.min_rows}")
    for column, non_null in zip(present, row[1:], strict=True):
        share = (report.rows - int(non_null)) / report.rows if report.rows else 0.0
        report.null_shares[column] = share
        limit = checks.null_limit(column)
        if share > limit:
            report.failures.append(f"column {column}: null share {share:.4f} > max_null_share {limit}")
    return report


def run_gate(dsn: str, checks: DataQuality) -> QualityReport:
    """Inspect the table; raise DataQualityError with the report when a check fails."""
    with connect(dsn) as conn:
        report = inspect(conn, checks)
    if not report.passed:
        raise DataQualityError(report.render())
    return report
