"""Running the promoter and the trainer as the DAG does: separate environments, as subprocesses."""

from __future__ import annotations

import json
import os
import select
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[2]
PROMOTER = ROOT / "pipelines" / "promoter" / ".venv" / "bin" / "mlp-promote"
MLSERVER_ENV = ROOT / "platform" / "runtimes" / "mlserver" / ".venv"
HERE = Path(__file__).resolve().parent
TAG = "mlp.promotion."


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Worker:
    """The session's trainer and pyfunc reference (`worker.py`), one JSON line per request."""

    def __init__(self, tracking_uri: str, log: Path) -> None:
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [str(MLSERVER_ENV / "bin" / "python"), str(HERE / "worker.py"), tracking_uri],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )

    def _call(self, request: dict[str, Any], timeout: float = 300) -> Any:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, f"worker gave no answer to {request['op']} within {timeout:.0f}s (log: {self._log.name})"
        line = self.process.stdout.readline()
        assert line, f"worker exited; log: {self._log.name}"
        answer = json.loads(line)
        assert "error" not in answer, answer["error"]
        return answer["ok"]

    def train(self, experiment: str, *runs: dict[str, Any]) -> list[str]:
        """Log one run per spec (metrics, seed, C) with a real scikit-learn model."""
        run_ids: list[str] = self._call({"op": "train", "experiment": experiment, "runs": list(runs)})
        return run_ids

    def train_online(
        self, experiment: str, columns: list[str], metrics: dict[str, float], config: dict[str, Any]
    ) -> str:
        """Log one run whose model scores the stream's feature vectors and behaves online as `config` says."""
        request = {"op": "train_online", "experiment": experiment, "columns": columns, "metrics": metrics}
        run_id: str = self._call({**request, "config": config})
        return run_id

    def predict(self, model_uri: str, rows: int = 16) -> dict[str, Any]:
        reference: dict[str, Any] = self._call({"op": "predict", "model_uri": model_uri, "rows": rows})
        return reference

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


@dataclass
class Outcome:
    code: int
    decision: dict[str, Any] | None
    stderr: str


def promote(tracking_uri: str, *args: str, env: dict[str, str] | None = None) -> Outcome:
    result = subprocess.run(
        [str(PROMOTER), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, **(env or {})},
    )
    decision = json.loads(result.stdout) if result.returncode == 0 else None
    if result.returncode == 0:
        assert decision is not None
    return Outcome(result.returncode, decision, result.stderr)


def promote_best(
    tracking_uri: str,
    experiment: str,
    model: str,
    policy: str,
    target: str,
    *extra: str,
    env: dict[str, str] | None = None,
) -> Outcome:
    """`mlp-promote` on the best run of `experiment` for `model`, as the pipeline's promote step calls it."""
    args = ("--experiment", experiment, "--model-name", model, "--policy", policy, "--target", target)
    return promote(tracking_uri, *args, *extra, env=env)


def aliases(client: MlflowClient, model: str) -> dict[str, str]:
    return {alias: str(version) for alias, version in client.get_registered_model(model).aliases.items()}


def audit(client: MlflowClient, model: str, version: str) -> dict[str, str]:
    tags = client.get_model_version(model, version).tags
    return {key.removeprefix(TAG): value for key, value in tags.items() if key.startswith(TAG)}


def versions(client: MlflowClient, model: str) -> list[str]:
    return sorted((v.version for v in client.search_model_versions(f"name = '{model}'")), key=int)
