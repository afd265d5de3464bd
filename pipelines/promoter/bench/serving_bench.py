"""Throughput and latency of the locally served model: MLServer (V2) beside `mlflow models serve`.

Not a test: numbers depend on the machine. Both servers serve the same model folder, one process
each, on this machine, in the same run; the same closed-loop client (N concurrent callers) drives
each for the same time after a warm-up. Run with the promoter's environment:

    pipelines/promoter/.venv/bin/python pipelines/promoter/bench/serving_bench.py            # a synthetic model
    pipelines/promoter/.venv/bin/python pipelines/promoter/bench/serving_bench.py \
        --model-uri models:/fraud-detector@champion --tracking-uri http://127.0.0.1:5000     # a registered one
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
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[3]
MLSERVER_ENV = ROOT / "platform" / "runtimes" / "mlserver" / ".venv" / "bin"
FEATURES = ["amount", "hour", "merchant_risk", "velocity"]

# Runs in the MLServer environment (scikit-learn there): a small classifier saved as an MLflow model.
_MAKE_MODEL = """
import sys, numpy as np, pandas as pd, mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(7)
X = pd.DataFrame(rng.normal(size=(2000, 4)), columns=sys.argv[2].split(','))
y = (X.to_numpy() @ rng.normal(size=4) > 0).astype(int)
m = LogisticRegression().fit(X, y)
mlflow.sklearn.save_model(m, sys.argv[1], signature=infer_signature(X, m.predict(X)),
                          pip_requirements=["scikit-learn"])
"""


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(argv: list[str], env: dict[str, str], ready_url: str, log: Path, timeout: float = 180):
    """A server process for the duration of one measurement, stopped even on failure."""
    with log.open("w") as handle:
        process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=handle, stderr=handle)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if httpx.get(ready_url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{argv[0]} did not become ready; see {log}")
                time.sleep(0.3)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


async def drive(name: str, url: str, body: dict[str, Any], concurrency: int, duration: float, warmup: float) -> Result:
    """Closed loop: each caller sends its next request when the previous one answered."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def caller(until: float, record: bool) -> None:
            nonlocal errors
            while time.perf_counter() < until:
                started = time.perf_counter()
                try:
                    response = await client.post(url, json=body)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if record:
                    if ok:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors += 1

        await asyncio.gather(*(caller(time.perf_counter() + warmup, False) for _ in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(caller(started + duration, True) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Result(name, len(latencies), errors, seconds, latencies)


def bodies(rows: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same rows as a V2 request (MLServer) and as a `dataframe_split` (MLflow scoring server)."""
    data = [[0.1 * (i + j) for j in range(len(FEATURES))] for i in range(rows)]
    v2 = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": f, "datatype": "FP64", "shape": [rows, 1], "data": [r[k] for r in data]}
            for k, f in enumerate(FEATURES)
        ],
    }
    return v2, {"dataframe_split": {"columns": FEATURES, "data": data}}


def prepare_model(args: argparse.Namespace, workdir: Path) -> Path:
    target = workdir / "repository" / "bench" / "1" / "model"
    if args.model_uri:
        import mlflow.artifacts

        if args.tracking_uri:
            os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
        target.parent.mkdir(parents=True)
        path = Path(mlflow.artifacts.download_artifacts(artifact_uri=args.model_uri, dst_path=str(target.parent)))
        path.rename(target)
    else:
        target.parent.mkdir(parents=True)
        subprocess.run([str(MLSERVER_ENV / "python"), "-c", _MAKE_MODEL, str(target), ",".join(FEATURES)], check=True)
    settings = {
        "name": "bench",
        "implementation": "mlp_mlserver.CheckedMLflowRuntime",
        "max_batch_size": args.max_batch_size,
        "max_batch_time": args.max_batch_time,
        "parameters": {"uri": "./model", "version": "1"},
    }
    (target.parent / "model-settings.json").write_text(json.dumps(settings))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-uri", help="MLflow model to serve (default: a synthetic scikit-learn model)")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per server")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rows", type=int, default=1, help="rows per request")
    parser.add_argument("--max-batch-size", type=int, default=1, help="MLServer adaptive batching (1: off)")
    parser.add_argument("--max-batch-time", type=float, default=0.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="mlp-serving-bench-"))
    model = prepare_model(args, workdir)
    v2_body, mlflow_body = bodies(args.rows)
    results: list[Result] = []

    http, grpc, metrics = free_port(), free_port(), free_port()
    mlserver_env = {
        "MLSERVER_HOST": "127.0.0.1",
        "MLSERVER_HTTP_PORT": str(http),
        "MLSERVER_GRPC_PORT": str(grpc),
        "MLSERVER_METRICS_PORT": str(metrics),
        "MLSERVER_PARALLEL_WORKERS": "0",
        "MLSERVER_DEBUG": "false",
    }
    base = f"http://127.0.0.1:{http}"
    with server(
        [str(MLSERVER_ENV / "mlserver"), "start", str(model.parents[2])],
        mlserver_env,
        f"{base}/v2/models/bench/ready",
        workdir / "mlserver.log",
    ):
        results.append(run(drive, "MLServer (V2)", f"{base}/v2/models/bench/infer", v2_body, args))

    port = free_port()
    with server(
        [
            str(MLSERVER_ENV / "mlflow"),
            "models",
            "serve",
            "-m",
            str(model),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ],
        {"PATH": f"{MLSERVER_ENV}{os.pathsep}{os.environ.get('PATH', '')}"},  # it execs `uvicorn`
        f"http://127.0.0.1:{port}/ping",
        workdir / "mlflow.log",
    ):
        results.append(run(drive, "mlflow models serve", f"http://127.0.0.1:{port}/invocations", mlflow_body, args))

    print(
        f"\nmodel: {args.model_uri or 'synthetic scikit-learn LogisticRegression'}; {args.rows} row(s)/request, "
        f"{args.concurrency} concurrent callers, {args.duration:g}s each; batching {args.max_batch_size}/"
        f"{args.max_batch_time:g}s"
    )
    print(f"{'server':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for r in results:
        print(f"{r.name:<22}{r.rps:>10.1f}{r.percentile(0.5):>10.2f}{r.percentile(0.99):>10.2f}{r.errors:>8}")
    mls, mlf = results
    print(
        f"ratio MLServer / mlflow: throughput x{mls.rps / mlf.rps:.2f}, "
        f"p50 x{mls.percentile(0.5) / mlf.percentile(0.5):.2f}, p99 x{mls.percentile(0.99) / mlf.percentile(0.99):.2f}"
    )
    print(f"logs: {workdir}")


def run(fn: Callable[..., Any], name: str, url: str, body: dict[str, Any], args: argparse.Namespace) -> Result:
    result: Result = asyncio.run(fn(name, url, body, args.concurrency, args.duration, args.warmup))
    print(f"{name}: {result.requests} requests in {result.seconds:.1f}s ({result.errors} errors)", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
