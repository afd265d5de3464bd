"""Rows per second of batch prediction (`mlp_mlserver.batch`) against the online V2 path, on the same model.

Not a test: numbers depend on the machine. In one run, on this machine: a synthetic scikit-learn model saved
as an MLflow model; Parquet files of its feature rows in a throwaway MinIO; then
- batch: `BatchRun` scores every file from MinIO into MinIO (reads, scoring, writes; the end-to-end rate);
- online: the same model in MLServer (`mlp_mlserver.CheckedMLflowRuntime`), a closed loop of concurrent callers
  sending V2 requests, one row each (one event at a time, as online scoring does) and then `--online-rows` each.
Run in the model runtime's environment, with the MinIO binary `make setup` built:

    platform/runtimes/mlserver/.venv/bin/python platform/runtimes/mlserver/bench/batch_vs_online.py --minio PATH
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pa_fs
import pyarrow.parquet as pq
import requests
from mlflow.models import infer_signature
from mlp_mlserver.batch import BatchRun, Input, Plan, s3_path
from sklearn.linear_model import LogisticRegression

FEATURES = ["amount", "hour", "merchant_risk", "velocity"]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(argv: list[str], env: dict[str, str], ready_url: str, log: Path, timeout: float = 120) -> Iterator[None]:
    with log.open("w") as handle:
        started = subprocess.Popen(argv, env={**os.environ, **env}, stdout=handle, stderr=handle)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if requests.get(ready_url, timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if started.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{argv[0]} did not become ready; see {log}")
                time.sleep(0.3)
            yield
        finally:
            started.terminate()
            started.wait(timeout=20)


def make_model(folder: Path) -> Path:
    rng = np.random.default_rng(7)
    features = pd.DataFrame(rng.normal(size=(2000, len(FEATURES))), columns=FEATURES)
    labels = (features.to_numpy() @ rng.normal(size=len(FEATURES)) > 0).astype(int)
    model = LogisticRegression().fit(features, labels)
    target = folder / "repository" / "bench" / "1" / "model"
    mlflow.sklearn.save_model(
        model, str(target), signature=infer_signature(features, model.predict(features)), pip_requirements=[]
    )
    settings = {
        "name": "bench",
        "implementation": "mlp_mlserver.CheckedMLflowRuntime",
        "parameters": {"uri": "./model", "version": "1"},
    }
    (target.parent / "model-settings.json").write_text(json.dumps(settings))
    return target


def measure_batch(model_path: Path, files: int, rows: int, chunk_rows: int) -> float:
    endpoint = os.environ["AWS_ENDPOINT_URL"].removeprefix("http://")
    fs = pa_fs.S3FileSystem(endpoint_override=endpoint, scheme="http", allow_bucket_creation=True)
    fs.create_dir("bench")
    rng = np.random.default_rng(1)
    inputs = []
    for i in range(files):
        frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
        path = f"bench/in/part-{i}.parquet"
        pq.write_table(pa.Table.from_pandas(frame), path, filesystem=fs)
        inputs.append(Input(f"s3://{path}", 0, ""))
    plan = Plan("bench", "1", chunk_rows, tuple(inputs))
    model = mlflow.pyfunc.load_model(str(model_path))
    started = time.perf_counter()
    summary = BatchRun(fs, plan, "s3://bench/out", model).run(progress=lambda _: None)
    seconds = time.perf_counter() - started
    assert summary["rows_scored"] == files * rows, summary
    assert len(pq.read_table(s3_path("s3://bench/out"), filesystem=fs)) == files * rows
    return files * rows / seconds


async def measure_online(url: str, rows: int, concurrency: int, duration: float) -> float:
    rng = np.random.default_rng(2)
    data = rng.normal(size=(rows, len(FEATURES)))
    body = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": f, "datatype": "FP64", "shape": [rows, 1], "data": data[:, k].tolist()}
            for k, f in enumerate(FEATURES)
        ],
    }
    answered = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def caller(until: float, count: bool) -> None:
            nonlocal answered
            while time.perf_counter() < until:
                async with session.post(url, json=body) as response:
                    await response.read()
                    if response.status != 200:
                        raise SystemExit(f"the model server answered {response.status}")
                if count:
                    answered += 1

        await asyncio.gather(*(caller(time.perf_counter() + 2, False) for _ in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(caller(started + duration, True) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return answered * rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minio", required=True, help="The MinIO server binary (`make setup` builds it).")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--rows", type=int, default=100_000, help="rows per input file")
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--online-rows", type=int, default=100, help="rows per V2 request of the second online run")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per online run")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mlp-batch-bench-"))
    model = make_model(work)
    port, console = free_port(), free_port()
    credentials = {"MINIO_ROOT_USER": "bench", "MINIO_ROOT_PASSWORD": os.urandom(12).hex()}
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID=credentials["MINIO_ROOT_USER"],
        AWS_SECRET_ACCESS_KEY=credentials["MINIO_ROOT_PASSWORD"],
    )
    minio = [args.minio, "server", str(work / "minio"), "--address", f"127.0.0.1:{port}"]
    with process(
        [*minio, "--console-address", f"127.0.0.1:{console}"],
        credentials,
        f"http://127.0.0.1:{port}/minio/health/ready",
        work / "minio.log",
    ):
        batch = measure_batch(model, args.files, args.rows, args.chunk_rows)

    http, grpc, metrics = free_port(), free_port(), free_port()
    env = {
        "MLSERVER_HOST": "127.0.0.1",
        "MLSERVER_HTTP_PORT": str(http),
        "MLSERVER_GRPC_PORT": str(grpc),
        "MLSERVER_METRICS_PORT": str(metrics),
        "MLSERVER_PARALLEL_WORKERS": "0",
        "MLSERVER_DEBUG": "false",
    }
    base = f"http://127.0.0.1:{http}/v2/models/bench"
    with process([str(BIN / "mlserver"), "start", str(model.parents[2])], env, f"{base}/ready", work / "mlserver.log"):
        single = asyncio.run(measure_online(f"{base}/infer", 1, args.concurrency, args.duration))
        multi = asyncio.run(measure_online(f"{base}/infer", args.online_rows, args.concurrency, args.duration))

    print(f"batch ({args.files} files x {args.rows:,} rows, MinIO to MinIO): {batch:,.0f} rows/s")
    print(f"online V2, 1 row per request ({args.concurrency} callers): {single:,.0f} rows/s")
    print(f"online V2, {args.online_rows} rows per request: {multi:,.0f} rows/s")
    print(
        f"ratio batch / online (1 row): {batch / single:.1f}   batch / online ({args.online_rows} rows): "
        f"{batch / multi:.1f}"
    )


if __name__ == "__main__":
    main()
