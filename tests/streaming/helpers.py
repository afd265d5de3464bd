"""Running the stream processors as subprocesses from streaming/.venv, and reading what they write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError
from mlplatform.config import Settings
from mlplatform.runtime.services.stream_processors import FeatureProcessor

from tests.conftest import free_ports
from tests.runtime.helpers import unique

ROOT = Path(__file__).resolve().parents[2]
STREAMING_BIN = ROOT / "streaming" / ".venv" / "bin"
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def bootstrap(settings: Settings) -> str:
    return f"{settings.host}:{settings.kafka.port}"


def kafka_client_env(settings: Settings) -> dict[str, str]:
    """How `mlp up` connects the processors: the SCRAM listener and user, as in the chart."""
    local = FeatureProcessor(settings).environment()
    return {k: v for k, v in local.items() if k.startswith("MLP_STREAMING__KAFKA_")}


def create_topic(settings: Settings, name: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap(settings))
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


@dataclass
class Processor:
    """One processor worker: a subprocess in its own session, its log file and its metrics port."""

    kind: str
    env: dict[str, str]
    log_path: Path
    metrics_port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Processor:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(STREAMING_BIN / f"mlp-{self.kind}"), "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no flush, no commit, no leaving the group."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def metric(self, name: str, **labels: str) -> float | None:
        """A sample of the worker's /metrics, or None when absent or not reachable."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=3).text
        except httpx.HTTPError:
            return None
        wanted = [f'{k}="{v}"' for k, v in labels.items()]
        for line in text.splitlines():
            if line.startswith(name + "{") and all(w in line for w in wanted):
                return float(line.rsplit(" ", 1)[1])
        return None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Streams:
    """Unique topic names and the MLP_STREAMING__* environment of one test's processors."""

    settings: Settings
    workdir: Path
    name: str = field(default_factory=lambda: unique("st"))
    extra: dict[str, str] = field(default_factory=dict)
    processors: list[Processor] = field(default_factory=list)

    def topic(self, role: str) -> str:
        return f"{self.name}-{role}"

    def env(self, metrics_port: int, worker: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLP_STREAMING__")}
        env.update(kafka_client_env(self.settings))
        env.update(
            {
                "MLP_STREAMING__SOURCE_TOPIC": self.topic("transactions"),
                "MLP_STREAMING__FEATURES_TOPIC": self.topic("features"),
                "MLP_STREAMING__PREDICTIONS_TOPIC": self.topic("predictions"),
                "MLP_STREAMING__PREDICTION_LOG_TOPIC": self.topic("prediction-log"),
                "MLP_STREAMING__DEAD_LETTER_TOPIC": self.topic("dead-letter"),
                "MLP_STREAMING__FEATURES_APP_ID": self.topic("features-app"),
                "MLP_STREAMING__SCORING_APP_ID": self.topic("scoring-app"),
                "MLP_STREAMING__DATA_DIR": str(self.workdir / worker),
                "MLP_STREAMING__METRICS_PORT": str(metrics_port),
                "MLP_STREAMING__LAG_INTERVAL_SECONDS": "1",
                "MLP_STREAMING__SESSION_TIMEOUT_SECONDS": "8",
            }
        )
        env.update(self.extra)
        return env

    def processor(self, kind: str, worker: str = "w1") -> Processor:
        port = free_ports(1)[0]
        processor = Processor(kind, self.env(port, worker), self.workdir / f"{kind}-{worker}.log", port)
        self.processors.append(processor)
        return processor

    def stop_all(self) -> None:
        for processor in self.processors:
            processor.stop()


def envelope(tx_id: int, account: str, amount: float, seconds: float) -> bytes:
    """A Debezium change event of `transactions` as the connector's JsonConverter (with schemas) writes it."""
    row = {
        "id": tx_id,
        "account_id": account,
        "merchant": "shop",
        "category": "food",
        "amount": amount,
        "created_at": (BASE_TIME + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
        "is_fraud": None,
    }
    payload = {
        "before": None,
        "after": row,
        "op": "c",
        "ts_ms": 0,
        "source": {"table": "transactions"},
    }
    return json.dumps({"schema": {"type": "struct", "optional": False}, "payload": payload}).encode()


MALFORMED = b"\x00not-json"


def synthetic_events(count: int, accounts: int = 7, malformed_every: int = 50) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs: transactions one second apart over `accounts`, every `malformed_every`-th broken."""
    for i in range(count):
        key = json.dumps({"id": i}).encode()
        if malformed_every and i % malformed_every == malformed_every - 1:
            yield key, MALFORMED
        else:
            yield (
                key,
                envelope(i, f"acct-{i % accounts}", float(i % 40) + 0.25, float(i)),
            )


class BackgroundProducer(threading.Thread):
    """Produces events at a steady pace while the test kills and starts workers."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        events: list[tuple[bytes, bytes]],
        per_second: float,
    ) -> None:
        super().__init__(daemon=True)
        self.settings, self.topic, self.events, self.per_second = (
            settings,
            topic,
            events,
            per_second,
        )
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            producer = KafkaProducer(bootstrap_servers=bootstrap(self.settings), acks="all", linger_ms=5)
            started = time.monotonic()
            for n, (key, value) in enumerate(self.events):
                producer.send(self.topic, key=key, value=value)
                delay = started + n / self.per_second - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            producer.flush()
            producer.close()
        except (KafkaError, OSError) as exc:  # reported by the test
            self.error = exc


def produce(settings: Settings, topic: str, records: list[tuple[bytes | None, bytes | None]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap(settings), acks="all")
    for key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


class TopicReader:
    """Reads a topic from the start, keeping every JSON value; `wait` polls until a condition holds."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.values: list[Any] = []
        self.consumer = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap(settings),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=unique("reader"),
            value_deserializer=lambda raw: json.loads(raw) if raw else None,
        )

    def poll(self) -> list[Any]:
        for records in self.consumer.poll(timeout_ms=500).values():
            self.values.extend(record.value for record in records)
        return self.values

    def wait(self, condition: Callable[[list[Any]], bool], timeout: float, what: str) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self.poll()):
                return self.values
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} ({len(self.values)} records read)")

    def close(self) -> None:
        self.consumer.close()
