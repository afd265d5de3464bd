"""Connectors registered over Connect's REST API move real data into Kafka."""

from __future__ import annotations

import httpx
import psycopg
from mlplatform.config import Settings
from mlplatform.credentials import Credentials

from tests.runtime.helpers import connector_running, consume, drop_connector, unique, wait_for, wait_for_streaming_slot


def connect_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.connect.port}"


def register(settings: Settings, name: str, config: dict[str, str]) -> None:
    response = httpx.put(f"{connect_url(settings)}/connectors/{name}/config", json=config, timeout=30)
    assert response.status_code in (200, 201), response.text
    wait_for(
        lambda: connector_running(connect_url(settings), name),
        90,
        f"connector {name} to run",
    )


def test_file_source_moves_lines_into_a_topic(platform: Settings) -> None:
    source = platform.home / f"{unique('lines')}.txt"
    lines = [f'{{"line": {i}}}' for i in range(3)]
    source.write_text("\n".join(lines) + "\n")
    topic, name = unique("file_lines"), unique("file-source")

    register(
        platform,
        name,
        {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "file": str(source),
            "topic": topic,
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        },
    )

    received = consume(f"{platform.host}:{platform.kafka.port}", topic, len(lines))
    assert received == [{"line": i} for i in range(3)]


def test_debezium_captures_inserts_without_the_password_in_its_config(
    platform: Settings, credentials: Credentials
) -> None:
    table, name, prefix = unique("tx"), unique("cdc"), unique("cdc")
    with psycopg.connect(credentials.postgres_dsn("warehouse"), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, account text, amount numeric(10,2))")

    register(
        platform,
        name,
        {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": platform.host,
            "database.port": str(platform.postgres.port),
            "database.user": platform.postgres.user,
            "database.password": "${env:PLATFORM_POSTGRES_PASSWORD}",
            "database.dbname": "warehouse",
            "topic.prefix": prefix,
            "plugin.name": "pgoutput",
            "slot.name": name,
            "publication.name": f"pub_{name}",
            "publication.autocreate.mode": "filtered",
            "table.include.list": f"public.{table}",
        },
    )
    wait_for_streaming_slot(credentials, name)
    with psycopg.connect(credentials.postgres_dsn("warehouse"), autocommit=True) as conn:
        conn.execute(f"INSERT INTO {table} (account, amount) VALUES ('a-1', 12.50), ('a-2', 7.25)")

    events = consume(f"{platform.host}:{platform.kafka.port}", f"{prefix}.public.{table}", 2, timeout=120)
    assert [(e["op"], e["after"]["account"]) for e in events] == [
        ("c", "a-1"),
        ("c", "a-2"),
    ]

    stored = httpx.get(f"{connect_url(platform)}/connectors/{name}/config", timeout=10).json()
    assert stored["database.password"] == "${env:PLATFORM_POSTGRES_PASSWORD}"
    drop_connector(platform, credentials, name)
