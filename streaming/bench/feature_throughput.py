"""Benchmark: feature-processor throughput (events/s) on a real broker, beside a raw aiokafka passthrough.

Both read the same N Debezium envelopes from one topic. The passthrough consumes and re-produces the bytes
unchanged (the ceiling for a single Python consumer/producer); the feature processor (`mlp-features worker`,
a subprocess) parses, re-keys by account, updates tumbling and hopping tables and emits vectors. Throughput is
measured from the output records' timestamps (first to last), so worker start-up is not counted.

    streaming/.venv/bin/python streaming/bench/feature_throughput.py --bootstrap 127.0.0.1:9092 --events 20000
    streaming/.venv/bin/python streaming/bench/feature_throughput.py --start-platform   # its own instance
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from mlstreaming.settings import StreamingSettings
from mlstreaming.topics import ensure_topics

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def envelopes(count: int) -> Iterator[tuple[bytes, bytes]]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(count):
        row = {
            "id": i,
            "account_id": f"acct-{i % 100}",
            "merchant": "m",
            "category": "c",
            "amount": float(i % 97),
            "created_at": (base + timedelta(milliseconds=200 * i)).isoformat(),
            "is_fraud": None,
        }
        payload = {"before": None, "after": row, "op": "c", "ts_ms": 0, "source": {}}
        yield json.dumps({"id": i}).encode(), json.dumps({"schema": {}, "payload": payload}).encode()


async def fill(bootstrap: str, topic: str, count: int) -> None:
    await ensure_topics(StreamingSettings(kafka_bootstrap=bootstrap), [topic])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        for key, value in envelopes(count):
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def output_rate(bootstrap: str, topic: str, count: int, timeout: float) -> float:
    """Events/s between the first and the last of `count` records in `topic`, by their timestamps."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"bench-{uuid.uuid4().hex[:8]}", auto_offset_reset="earliest"
    )
    await consumer.start()
    stamps: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while len(stamps) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            stamps.extend(record.timestamp for records in batch.values() for record in records)
    finally:
        await consumer.stop()
    if len(stamps) < count:
        raise SystemExit(f"only {len(stamps)} of {count} records reached {topic} within {timeout:.0f}s")
    return (count - 1) / max((max(stamps) - min(stamps)) / 1000, 1e-3)


async def passthrough(bootstrap: str, source: str, sink: str, count: int) -> float:
    await ensure_topics(StreamingSettings(kafka_bootstrap=bootstrap), [sink])
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"bench-pass-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await consumer.start()
    await producer.start()
    seen = 0
    try:
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
            for records in batch.values():
                for record in records:
                    await producer.send(sink, record.value, key=record.key)
                    seen += 1
            if batch:
                await consumer.commit()
        await producer.flush()
    finally:
        await consumer.stop()
        await producer.stop()
    return await output_rate(bootstrap, sink, count, 60)


def features(bootstrap: str, source: str, count: int, workdir: Path) -> float:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "MLP_STREAMING__KAFKA_BOOTSTRAP": bootstrap,
        "MLP_STREAMING__SOURCE_TOPIC": source,
        "MLP_STREAMING__FEATURES_TOPIC": f"{name}-features",
        "MLP_STREAMING__DEAD_LETTER_TOPIC": f"{name}-dead-letter",
        "MLP_STREAMING__FEATURES_APP_ID": name,
        "MLP_STREAMING__DATA_DIR": str(workdir / "data"),
        "MLP_STREAMING__METRICS_PORT": "0",  # any free port: the benchmark does not scrape it
        "MLP_STREAMING__LOG_LEVEL": "warn",
    }
    with (workdir / "features.log").open("wb") as log:
        worker = subprocess.Popen([str(BIN / "mlp-features"), "worker"], env=env, stdout=log, stderr=log)
    try:
        return asyncio.run(output_rate(bootstrap, f"{name}-features", count, 600))
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@contextmanager
def own_platform() -> Iterator[str]:
    """A throw-away platform instance through the platform CLI, with the home and free ports of every
    setting that the platform's own isolation picks (mlplatform.isolation, read from its environment)."""
    platform_bin = ROOT / "platform" / ".venv" / "bin"
    code = "import json; from mlplatform.isolation import isolated_environment as e; print(json.dumps(e()))"
    isolated = json.loads(
        subprocess.run([str(platform_bin / "python"), "-c", code], check=True, capture_output=True).stdout
    )
    env = {**os.environ, **isolated}
    home = Path(env["MLP_HOME"])
    mlp = str(platform_bin / "mlp")
    subprocess.run([mlp, "up"], env=env, check=True, capture_output=True)
    try:
        yield f"127.0.0.1:{env['MLP_KAFKA__PORT']}"
    finally:
        subprocess.run([mlp, "down"], env=env, check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--bootstrap", help="host:port of a running broker")
    where.add_argument("--start-platform", action="store_true", help="start (and stop) a platform instance")
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()

    with own_platform() if args.start_platform else _given(args.bootstrap) as bootstrap:
        source = f"bench-source-{uuid.uuid4().hex[:8]}"
        asyncio.run(fill(bootstrap, source, args.events))
        raw = asyncio.run(passthrough(bootstrap, source, f"{source}-passthrough", args.events))
        with tempfile.TemporaryDirectory(prefix="mlp-bench-") as workdir:
            processed = features(bootstrap, source, args.events, Path(workdir))
    print(f"events:                         {args.events}")
    print(f"aiokafka passthrough:           {raw:,.0f} events/s")
    print(f"feature processor (mlp-features): {processed:,.0f} events/s")
    print(f"ratio feature/passthrough:      {processed / raw:.2f}")


@contextmanager
def _given(bootstrap: str) -> Iterator[str]:
    yield bootstrap


if __name__ == "__main__":
    main()
