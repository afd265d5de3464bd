"""A canary on the local platform, judged on its live traffic with no human step.

Real components throughout: the platform's MLflow, MLServer (the champion and the canary side by side) and
Kafka; a model-metrics exporter of the test's own, with an outcome label for every transaction (its own topics,
so the demo's warehouse labels cannot mix in); a scoring processor of the streaming project splitting accounts
between the two versions by the registry's aliases; a Prometheus scraping the processor and the exporter; and
`mlp-promote judge`, which reads that Prometheus with the same queries as in a cluster. Feature vectors stream
in the whole time. A good candidate is finalized with every gate, precision and recall included, evaluated;
candidates that fail requests, answer slowly or score differently are rolled back naming their gates; the
champion answers throughout and every event is scored exactly where it should be, none dead-lettered.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kafka import KafkaProducer
from mlflow import MlflowClient
from mlplatform.config import Settings
from mlplatform.tools import Toolchain

from tests.conftest import free_ports
from tests.observability.exporter import Exporter, change_event
from tests.promotion.conftest import ModelServer
from tests.promotion.helpers import Worker, aliases, audit, promote, promote_best, unique
from tests.runtime.helpers import wait_for
from tests.streaming.helpers import Processor, Streams, TopicReader, bootstrap
from tests.streaming.mlserver import model_columns

ACCOUNTS = 200
EVENTS_PER_SECOND = 40
GATES = {"max_error_ratio": 0.05, "max_latency_p99_ratio": 4.0, "max_score_psi": 0.25}


def policy(accuracy_floor: float = 0.0) -> str:
    return json.dumps(
        {
            "metric": "accuracy",
            "thresholds": {"accuracy": {"min": accuracy_floor}},
            "canary_traffic": 50,
            "canary": {"duration": "20s", "min_requests": 5, "gates": GATES},
        }
    )


@dataclass(eq=False)
class Feeder(threading.Thread):
    """Feature vectors of ACCOUNTS accounts at a steady pace, until stopped; remembers every id it sent."""

    settings: Settings
    topic: str
    #: Where each vector's transaction gets its outcome label: fraud exactly when the amount is above 100.
    labels_topic: str
    sent: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        try:
            producer = KafkaProducer(bootstrap_servers=bootstrap(self.settings), acks="all", linger_ms=5)
            n = 0
            while not self.stop.is_set():
                account, amount = f"acct-{n % ACCOUNTS}", float((n * 37) % 200)
                windows = {
                    w: {"count": 1, "sum": amount, "mean": amount, "max": amount} for w in ("tumbling", "hopping")
                }
                vector = {
                    "id": f"v{n}",
                    "account_id": account,
                    "transaction_id": n,
                    "amount": amount,
                    "windows": windows,
                }
                producer.send(self.topic, key=account.encode(), value=json.dumps(vector).encode())
                producer.send(self.labels_topic, value=json.dumps(change_event(n, amount > 100)).encode())
                self.sent.append(vector["id"])
                n += 1
                time.sleep(1 / EVENTS_PER_SECOND)
            producer.flush()
            producer.close()
        except Exception as exc:  # reported by the test
            self.error = exc


@dataclass
class Loop:
    model: str
    experiment: str
    prometheus: str
    processor: Processor
    streams: Streams
    feeder: Feeder
    exporter: Exporter
    env: dict[str, str]
    candidates: list[float] = field(default_factory=lambda: [0.8])

    def next_accuracy(self) -> float:
        """Each candidate rates better offline than every earlier run, so it is the one the promoter picks."""
        self.candidates.append(round(self.candidates[-1] + 0.01, 2))
        return self.candidates[-1]


def start_prometheus(settings: Settings, workdir: Path, targets: list[int]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_ports(1)[0]
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {"job_name": "canary-test", "static_configs": [{"targets": [f"127.0.0.1:{p}" for p in targets]}]}
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            str(Toolchain(settings).prometheus),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 60, "the test's Prometheus")
    return process, url


@pytest.fixture(scope="module")
def loop(
    platform: Settings,
    tracking_uri: str,
    worker: Worker,
    model_server: ModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Loop]:
    workdir = tmp_path_factory.mktemp("canary")
    exporter = Exporter(platform, workdir)
    model, experiment = unique("canary-model"), unique("canary")
    streams = Streams(
        platform,
        workdir,
        extra={
            "MLP_STREAMING__MODEL_NAME": model,
            "MLP_STREAMING__MODEL_URL": model_server.url,
            "MLP_STREAMING__MLFLOW_URL": tracking_uri,
            "MLP_STREAMING__SPLIT_REFRESH_SECONDS": "1",
            # The test's own prediction log and exporter: nothing else adds to what the judge measures.
            "MLP_STREAMING__PREDICTION_LOG_TOPIC": exporter.topic,
            "MLP_STREAMING__BATCH_SIZE": "8",
            "MLP_STREAMING__BATCH_TIMEOUT_SECONDS": "0.2",
        },
    )
    env = model_server.env()
    worker.train_online(experiment, model_columns(), {"accuracy": 0.8}, {"mode": "ok"})
    first = promote_best(tracking_uri, experiment, model, policy(), "local", env=env)
    assert first.code == 0 and first.decision and first.decision["decision"] == "promoted", first.stderr[-3000:]
    processor = streams.processor("scoring").start()
    wait_for(lambda: processor.metric("mlp_stream_circuit_breaker_open") is not None, 90, "the scoring processor")
    prometheus, url = start_prometheus(platform, workdir, [processor.metrics_port, exporter.port])
    feeder = Feeder(platform, streams.topic("features"), exporter.labels_topic)
    feeder.start()
    try:
        yield Loop(
            model, experiment, url, processor, streams, feeder, exporter, {**env, "MLP_PROMOTER_PROMETHEUS_URL": url}
        )
    finally:
        feeder.stop.set()
        feeder.join(timeout=10)
        streams.stop_all()
        prometheus.terminate()
        prometheus.wait(timeout=20)
        exporter.stop()


def canary_then_judge(loop: Loop, tracking_uri: str, worker: Worker, config: dict[str, Any]) -> dict[str, Any]:
    """Train a candidate behaving as `config`, promote it to a canary beside the champion, and let the judge end it."""
    worker.train_online(loop.experiment, model_columns(), {"accuracy": loop.next_accuracy()}, config)
    started = promote_best(tracking_uri, loop.experiment, loop.model, policy(), "local", env=loop.env)
    assert started.code == 0 and started.decision, started.stderr[-3000:]
    assert started.decision["decision"] == "canary", started.decision
    assert [v["traffic"] for v in started.decision["serving"]["versions"]] == [50, 50]
    judged = promote(tracking_uri, "judge", "--model-name", loop.model, "--target", "local", "--wait", env=loop.env)
    assert judged.code == 0 and judged.decision, judged.stderr[-3000:]
    assert loop.processor.alive, loop.processor.log_tail()
    return judged.decision


def served_version(server: ModelServer, model: str) -> str:
    """The version answering unversioned calls (MLServer's newest): the champion whenever no canary runs."""
    body = {
        "parameters": {"content_type": "pd"},
        "inputs": [{"name": c, "datatype": "FP64", "shape": [1], "data": [1.0]} for c in model_columns()],
    }
    response = httpx.post(f"{server.url}/v2/models/{model}/infer", json=body, timeout=30)
    response.raise_for_status()
    return str(response.json()["model_version"])


def judged(loop: Loop, version: str) -> str:
    """The decision on `version` as the exporter publishes it to the test's Prometheus."""
    query = f'mlp_model_canary_judged_timestamp_seconds{{model="{loop.model}", version="{version}"}}'

    def decision() -> str | None:
        answer = httpx.get(f"{loop.prometheus}/api/v1/query", params={"query": query}, timeout=10).json()
        found = answer["data"]["result"]
        return str(found[0]["metric"]["decision"]) if found else None

    return wait_for(decision, 90, f"the exporter's judgement of version {version}")


@pytest.mark.parametrize(
    ("config", "gates"),
    [
        # Its successful calls are right, so only its errors fail it.
        ({"mode": "fail", "share": 0.5}, ["error_ratio"]),
        ({"mode": "slow", "delay": 1.0}, ["latency_p99_ratio"]),
        # Flagging everything: other scores and, by the outcome labels, half its fraud alerts are wrong.
        ({"mode": "shifted"}, ["score_psi", "precision_drop"]),
    ],
    ids=["fails-requests", "ten-times-slower", "shifted-scores"],
)
def test_a_bad_canary_is_rolled_back_by_the_judge(
    loop: Loop,
    tracking_uri: str,
    worker: Worker,
    client: MlflowClient,
    model_server: ModelServer,
    config: dict[str, Any],
    gates: list[str],
) -> None:
    decision = canary_then_judge(loop, tracking_uri, worker, config)
    assert decision["decision"] == "rolled_back", json.dumps(decision.get("judgement"))
    version = decision["version"]
    tags = audit(client, loop.model, version)
    assert tags["decision"] == "rolled_back"
    for gate in gates:
        assert f"gate {gate} failed" in tags["rollback_reason"], tags["rollback_reason"]
    judgement = json.loads(tags["judgement"])
    failed = [g["name"] for g in judgement["gates"] if g["passed"] is False]
    assert failed == gates, judgement
    assert aliases(client, loop.model) == {"champion": "1"}
    assert served_version(model_server, loop.model) == "1"  # the canary is gone from the server
    # The decision reaches Prometheus through the exporter: what ModelCanaryRolledBack and the dashboards read.
    assert judged(loop, version) == "rolled_back"


def test_a_good_canary_is_finalized_and_no_event_is_lost(
    loop: Loop, tracking_uri: str, worker: Worker, client: MlflowClient, model_server: ModelServer, platform: Settings
) -> None:
    decision = canary_then_judge(loop, tracking_uri, worker, {"mode": "ok"})
    assert decision["decision"] == "finalized", decision
    version = decision["version"]
    judgement = json.loads(audit(client, loop.model, version)["judgement"])
    assert {g["name"]: g["passed"] for g in judgement["gates"]} == {
        "error_ratio": True,
        "latency_p99_ratio": True,
        "score_psi": True,
        # Every prediction's outcome label reached the exporter: precision and recall were compared too.
        "precision_drop": True,
        "recall_drop": True,
    }
    measured = judgement["measured"]
    assert measured[version]["calls"] >= 5 and measured["1"]["calls"] >= 5, measured
    assert aliases(client, loop.model) == {"champion": version}
    wait_for(lambda: served_version(model_server, loop.model) == version, 30, "the new champion to answer")
    assert judged(loop, version) == "finalized"

    # Every vector sent during the whole module was scored and logged once per delivery; none went to dead-letter.
    loop.feeder.stop.set()
    loop.feeder.join(timeout=10)
    assert loop.feeder.error is None, loop.feeder.error
    sent = set(loop.feeder.sent)
    log = TopicReader(platform, loop.exporter.topic)
    try:

        def logged(values: list[Any]) -> set[str]:
            return {v["id"] for v in values if v and v.get("model_name") == loop.model}

        try:
            records = log.wait(lambda values: sent <= logged(values), 120, f"all {len(sent)} vectors logged")
        except AssertionError as exc:
            missing = sorted(sent - logged(log.values), key=lambda v: int(v[1:]))
            raise AssertionError(f"{exc}; missing: {len(missing)}, e.g. {missing[:5]}…{missing[-5:]}") from None
        versions = {v["model_version"] for v in records if v and v.get("model_name") == loop.model}
        assert {"1", version} <= versions
    finally:
        log.close()
    dead_letters = loop.processor.metric("mlp_stream_events_out_total", topic=loop.streams.topic("dead-letter"))
    assert dead_letters is None, f"{dead_letters} vectors were dead-lettered: {loop.processor.log_tail()}"
