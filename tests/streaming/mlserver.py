"""A real MLServer (platform/runtimes/mlserver) serving a tiny deterministic sklearn model saved with MLflow."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_ports
from tests.runtime.helpers import wait_for
from tests.streaming.helpers import ROOT, STREAMING_BIN

MLSERVER_BIN = ROOT / "platform" / "runtimes" / "mlserver" / ".venv" / "bin"
THRESHOLD = 100.0

# Fraud when amount > 100: a logistic regression on a clean training set; test amounts stay far from 100.
TRAIN = """
import json, sys
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

columns, path = json.loads(sys.argv[1]), sys.argv[2]
amounts = [float(a) for a in range(0, 201, 5)]
frame = pd.DataFrame([[a] + [1.0] * (len(columns) - 1) for a in amounts], columns=columns)
labels = [int(a > 100) for a in amounts]
model = LogisticRegression(C=1e4, max_iter=10000).fit(frame, labels)
mlflow.sklearn.save_model(model, path, signature=infer_signature(frame, model.predict(frame)))
"""


def model_columns() -> list[str]:
    code = "import json; from mlstreaming.features.vector import MODEL_COLUMNS as c; print(json.dumps(c))"
    result = subprocess.run(
        [str(STREAMING_BIN / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


class MLServer:
    """`mlserver start` on free ports with one model, `name`, version `version`, trained on the processor's
    columns and `extra_columns` (a model that needs a column the processor does not send)."""

    def __init__(self, workdir: Path, name: str, version: str, extra_columns: tuple[str, ...] = ()) -> None:
        self.workdir, self.name, self.version = workdir, name, version
        self.http_port, grpc_port, metrics_port = free_ports(3)
        self.process: subprocess.Popen[bytes] | None = None
        model_dir = workdir / "model"
        subprocess.run(
            [
                str(MLSERVER_BIN / "python"),
                "-c",
                TRAIN,
                json.dumps([*model_columns(), *extra_columns]),
                str(model_dir),
            ],
            check=True,
            capture_output=True,
        )
        (workdir / "settings.json").write_text(
            json.dumps(
                {
                    "http_port": self.http_port,
                    "grpc_port": grpc_port,
                    "metrics_port": metrics_port,
                    "parallel_workers": 0,
                }
            )
        )
        (workdir / "model-settings.json").write_text(
            json.dumps(
                {
                    "name": name,
                    "implementation": "mlp_mlserver.CheckedMLflowRuntime",
                    "parameters": {"uri": str(model_dir), "version": version},
                }
            )
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> MLServer:
        env = {**os.environ, "PATH": f"{MLSERVER_BIN}:{os.environ['PATH']}"}
        log = (self.workdir / "mlserver.log").open("ab")
        self.process = subprocess.Popen(
            [str(MLSERVER_BIN / "mlserver"), "start", str(self.workdir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(self.ready, 120, f"MLServer to serve {self.name}")
        return self

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"mlserver exited:\n{self.log_tail()}")
        try:
            url = f"{self.url}/v2/models/{self.name}/ready"
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """Stop the server and every process it started (its own session)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self) -> str:
        return (self.workdir / "mlserver.log").read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def serving(workdir: Path, name: str, version: str, extra_columns: tuple[str, ...] = ()) -> Iterator[MLServer]:
    """A real MLServer with one model, stopped afterwards even when it fails to start."""
    if not (MLSERVER_BIN / "mlserver").exists():
        pytest.fail(f"{MLSERVER_BIN} is missing: run `uv sync --locked --project platform/runtimes/mlserver`")
    workdir.mkdir()
    server = MLServer(workdir, name, version, extra_columns)
    try:
        yield server.start()
    finally:
        server.stop()
