"""The warehouse connection, taken from the environment so it never appears in parameters or logs.

WAREHOUSE_DSN holds where to connect (a libpq string such as `host=127.0.0.1 port=15432 dbname=warehouse
user=mlp`, or a URI without password); WAREHOUSE_PASSWORD holds the password, in Kubernetes from a Secret.
Only psycopg and the standard library are used, so the platform's own environment can import this too.
"""

from __future__ import annotations

import os

import psycopg
from psycopg import sql

DSN_VARIABLE = "WAREHOUSE_DSN"
PASSWORD_VARIABLE = "WAREHOUSE_PASSWORD"


class WarehouseNotConfigured(RuntimeError):
    """The variables that say where the warehouse is are missing."""


def connect(**kwargs: object) -> psycopg.Connection:
    dsn = os.environ.get(DSN_VARIABLE)
    if not dsn:
        raise WarehouseNotConfigured(
            f"{DSN_VARIABLE} is not set: give it the warehouse's host, port, dbname and user "
            f"(e.g. 'host=127.0.0.1 port=15432 dbname=warehouse user=mlp') and put the password in {PASSWORD_VARIABLE}."
        )
    password = os.environ.get(PASSWORD_VARIABLE)
    if password:
        kwargs["password"] = password
    return psycopg.connect(dsn, connect_timeout=10, **kwargs)  # type: ignore[arg-type]


def table_identifier(name: str) -> sql.Composable:
    """`schema.table` or `table` as a safely quoted identifier."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise ValueError(f"table must be 'schema.table' or 'table', not {name!r}")
    return sql.Identifier(*parts)
