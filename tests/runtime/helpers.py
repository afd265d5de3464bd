"""Small waiting, consuming and process helpers shared by the runtime and cluster tests."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import psycopg
from kafka import KafkaConsumer
from mlplatform.config import Settings
from mlplatform.credentials import Credentials

T = TypeVar("T")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5) -> T:
    """Poll until `probe` returns something truthy; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def consume(bootstrap: str, topic: str, count: int, timeout: float = 60.0) -> list[Any]:
    """Read `count` JSON values from the start of `topic`."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=unique("test"),
        value_deserializer=lambda raw: json.loads(raw) if raw else None,
        consumer_timeout_ms=1000,
    )
    values: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(values) < count and time.monotonic() < deadline:
            values.extend(record.value for record in consumer)
    finally:
        consumer.close()
    return values


def connector_running(connect_url: str, name: str) -> dict[str, Any] | None:
    response = httpx.get(f"{connect_url}/connectors/{name}/status", timeout=5)
    if response.status_code != 200:
        return None
    status = response.json()
    states = [
        status["connector"]["state"],
        *(task["state"] for task in status["tasks"]),
    ]
    if "FAILED" in states:
        traces = [task.get("trace", "") for task in status["tasks"]] + [status["connector"].get("trace", "")]
        raise AssertionError(f"connector {name} failed: {' | '.join(t for t in traces if t)[:2000]}")
    return status if status["tasks"] and all(state == "RUNNING" for state in states) else None


def wait_for_streaming_slot(credentials: Credentials, slot: str, timeout: float = 120) -> None:
    """Wait until a Debezium task streams from its replication slot: a row committed before is never streamed
    (a running task may still be creating the slot or taking its snapshot)."""
    with psycopg.connect(credentials.postgres_dsn("warehouse"), autocommit=True) as conn:
        wait_for(
            lambda: conn.execute(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND active", (slot,)
            ).fetchone(),
            timeout,
            "Debezium to start streaming from its replication slot",
        )


def drop_connector(settings: Settings, credentials: Credentials, name: str) -> None:
    """Delete a Debezium connector and its replication slot and publication, so WAL is not retained."""
    httpx.delete(f"http://{settings.host}:{settings.connect.port}/connectors/{name}", timeout=10)
    with psycopg.connect(credentials.postgres_dsn("warehouse"), autocommit=True) as conn:
        wait_for(
            lambda: (
                conn.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE slot_name = %s AND NOT active",
                    (name,),
                ).rowcount
            ),
            30,
            "the replication slot to be released",
        )
        conn.execute(f"DROP PUBLICATION IF EXISTS pub_{name}")


def instance_processes(home: Path, part: str | None = None) -> list[psutil.Process]:
    """Processes of the instance at `home`: all of them, or only one part (`platform`, `cluster`)."""
    found = []
    for process in psutil.process_iter():
        try:
            environ = process.environ()
            in_part = part is None or environ.get("MLP_INSTANCE_PART", "platform") == part
            if environ.get("MLP_INSTANCE") == str(home) and in_part:
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
