"""`down` stops everything and leaves no process; `up` brings every piece of data back."""

from __future__ import annotations

import json
import os
import socket

import httpx
import psutil
from kafka import KafkaProducer
from mlflow import MlflowClient
from mlplatform.config import Settings
from mlplatform.runtime import services

from tests.conftest import isolated_environment, run_mlp
from tests.runtime.helpers import connector_running, consume, instance_processes, port_free, unique, wait_for


def test_status_json_reports_every_service_ready(platform: Settings) -> None:
    rows = json.loads(run_mlp("status", "--json").stdout)
    assert [row["name"] for row in rows] == list(services.NAMES)
    assert all(row["ready"] and row["state"] == "RUNNING" and row["pid"] > 0 for row in rows), rows


def test_data_survives_down_and_up_and_down_leaves_nothing_running(
    platform: Settings,
) -> None:
    bootstrap = f"{platform.host}:{platform.kafka.port}"
    connect = f"http://{platform.host}:{platform.connect.port}"
    topic, connector = unique("durable"), unique("durable-source")
    producer = KafkaProducer(bootstrap_servers=bootstrap, value_serializer=lambda v: json.dumps(v).encode())
    producer.send(topic, {"kept": True})
    producer.flush()
    producer.close()
    tracking = MlflowClient(f"http://{platform.host}:{platform.mlflow.port}")
    run = tracking.create_run(tracking.create_experiment(unique("durable")))
    tracking.log_metric(run.info.run_id, "auc", 0.91)
    source = platform.home / f"{connector}.txt"
    source.write_text("")
    config = {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "file": str(source),
        "topic": unique("durable_lines"),
    }
    assert httpx.put(f"{connect}/connectors/{connector}/config", json=config, timeout=30).status_code == 201
    pids = [row["pid"] for row in json.loads(run_mlp("status", "--json").stdout)]
    ports = [
        int(value)
        for key, value in os.environ.items()
        if key.startswith("MLP_") and key.endswith("PORT") and not key.startswith("MLP_CLUSTER__")
    ]

    run_mlp("down")

    assert not [pid for pid in pids if psutil.pid_exists(pid)], "service processes survived `mlp down`"
    assert instance_processes(platform.home, part="platform") == []
    assert [port for port in ports if not port_free(port)] == []
    assert not (platform.run_dir / "supervisord.pid").exists()

    run_mlp("up")

    assert consume(bootstrap, topic, 1) == [{"kept": True}]
    assert tracking.get_run(run.info.run_id).data.metrics == {"auc": 0.91}
    wait_for(
        lambda: connector_running(connect, connector),
        90,
        "the connector to run again after `up`",
    )
    assert httpx.get(f"{connect}/connectors/{connector}/config", timeout=10).json()["file"] == str(source)


def test_taken_port_names_the_port_the_service_and_the_setting() -> None:
    env = {**os.environ, **isolated_environment()}
    port = int(env["MLP_KAFKA__PORT"])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = run_mlp("up", env=env, check=False)

    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert f"Port {port}" in message
    assert "kafka cannot listen on it (setting kafka.port)" in message
    assert "export MLP_KAFKA__PORT=" in message
    assert not os.path.exists(os.path.join(env["MLP_HOME"], "run", "supervisord.pid")), "up started something"
