"""A model-metrics exporter of a test's own: its own prediction log and labels topics, port and consumer group.

Tests that judge or count predictions use one so that nothing else on the platform (the demo's warehouse, whose
change topic carries the outcome labels of its transactions) can add to what they measure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from kafka.admin import KafkaAdminClient, NewTopic
from mlplatform.config import Settings
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_ports
from tests.runtime.helpers import unique

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Exporter:
    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.port = free_ports(1)[0]
        self.topic = unique("prediction-log")
        self.labels_topic = unique("transactions")
        self.bootstrap = f"{settings.host}:{settings.kafka.port}"
        self.mlflow_url = f"http://{settings.host}:{settings.mlflow.port}"
        self.log = workdir / "exporter.log"
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        admin.create_topics([NewTopic(self.topic, 1, 1), NewTopic(self.labels_topic, 1, 1)])
        admin.close()
        argv = [sys.executable, "-m", "mlplatform.observability.model_exporter", "--host", settings.host]
        argv += ["--port", str(self.port), "--mlflow-url", self.mlflow_url, "--kafka-bootstrap", self.bootstrap]
        argv += ["--topic", self.topic, "--group-id", unique("exporter"), "--refresh-seconds", "1"]
        argv += ["--labels-topic", self.labels_topic]
        argv += ["--baseline-size", "5"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def samples(self) -> Samples:
        assert self.process.poll() is None, f"exporter exited:\n{self.log.read_text()[-2000:]}"
        try:
            text = httpx.get(f"http://{self.settings.host}:{self.port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return {}
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)


def change_event(transaction: int, is_fraud: bool | None) -> dict[str, object]:
    """A Debezium change event of `transactions` as the CDC connector's JsonConverter (with schemas) writes it."""
    row = {"id": transaction, "account_id": "acct-1", "amount": 10.0, "is_fraud": is_fraud}
    return {"schema": {"type": "struct"}, "payload": {"op": "c", "before": None, "after": row, "ts_ms": 0}}
