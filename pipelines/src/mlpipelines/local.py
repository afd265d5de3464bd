"""Task callables of local mode and of the steps that run inside Airflow in both modes.

Local mode runs `mlflow run` and the promoter as subprocesses of the Airflow worker, streaming their output
into the task log. Airflow's own variables (which include its database URL) are not passed on.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from mlpipelines.quality import run_gate
from mlpipelines.recipe import DataQuality

log = logging.getLogger(__name__)
RUN_ID = re.compile(r"Run \(ID '([0-9a-f]{32})'\) succeeded")


class StepFailed(RuntimeError):
    """A local step's command exited with an error."""


class Skip(Exception):
    """Raised by callables to skip; the factory translates it to Airflow's skip."""


def child_environment(extra: dict[str, str], venv: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "_AIRFLOW"))}
    env.pop("VIRTUAL_ENV", None)
    # The recipe names the experiment; an inherited id would make `mlflow run` refuse both.
    env.pop("MLFLOW_EXPERIMENT_ID", None)
    if venv:  # `mlflow run --env-manager local` starts `python`: it must be the project's
        env["PATH"] = f"{venv}/bin{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = venv
    env.update(extra)
    return env


def run_command(argv: list[str], env: dict[str, str], venv: str | None = None, cwd: str | None = None) -> str | None:
    """Run `argv`, log its output line by line, fail on a non-zero exit; return the MLflow run id if printed."""
    log.info("running: %s", " ".join(argv))
    process = subprocess.Popen(
        argv,
        env=child_environment(env, venv),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    run_id = None
    tail: list[str] = []
    for line in process.stdout:
        log.info("%s", line.rstrip())
        tail = [*tail[-19:], line.rstrip()]
        match = RUN_ID.search(line)
        if match:
            run_id = match.group(1)
    code = process.wait()
    if code != 0:
        raise StepFailed(f"{Path(argv[0]).name} exited with {code}; last output:\n" + "\n".join(tail))
    return run_id


def train(argv: list[str], env: dict[str, str], venv: str | None) -> str | None:
    return run_command(argv, env, venv)


def batch_predict(argv: list[str], env: dict[str, str]) -> None:
    """Batch prediction (`mlp-batch-predict`): its progress reaches the task log; a retry resumes the run."""
    if not Path(argv[0]).exists():
        raise StepFailed(f"{argv[0]} is missing: run `mlp setup` (it installs the model runtime's environment)")
    run_command(argv, env)


def promote(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a promoter command; its JSON decision (its whole stdout) becomes the task's XCom, read by `mlp demo`.

    Its stderr reaches the task log line by line as it comes (the judge says how long it still waits).
    """
    if not Path(argv[0]).exists():
        raise Skip(f"the promoter is not installed ({argv[0]} is missing): nothing promoted")
    log.info("running: %s", " ".join(argv))
    tail: list[str] = []
    with tempfile.TemporaryFile(mode="w+") as stdout:
        process = subprocess.Popen(
            argv, env=child_environment(env, None), stdout=stdout, stderr=subprocess.PIPE, text=True
        )
        assert process.stderr is not None
        for line in process.stderr:
            log.info("%s", line.rstrip())
            tail = [*tail[-19:], line.rstrip()]
        code = process.wait()
        stdout.seek(0)
        output = stdout.read()
    log.info("decision: %s", output)
    if code != 0:
        raise StepFailed(f"{Path(argv[0]).name} exited with {code}; last output:\n" + "\n".join(tail))
    decision: dict[str, Any] = json.loads(output)
    return decision


def quality_gate(dsn: str, checks: dict[str, Any] | None) -> dict[str, Any]:
    """Fail the run early, with the report as the error, when the training data breaks the recipe's checks."""
    if checks is None:
        log.info("the recipe has no data-quality checks")
        return {"checked": False}
    report = run_gate(dsn, DataQuality.model_validate(checks))
    log.info("%s", report.render())
    return {"checked": True, "rows": report.rows, "null_shares": report.null_shares}


AUTOMATIC = "asset_triggered"


def debounce(tracking_uri: str, experiment: str, cooldown: float, run_type: str) -> str:
    """Let a run train unless new data, a signal or drift started it while training runs or within `cooldown`
    seconds of the last training start (read from the recipe's MLflow experiment, the same in both modes)."""
    kind = run_type.rsplit(".", 1)[-1].lower()  # the template renders DagRunType.ASSET_TRIGGERED
    if kind != AUTOMATIC:
        return f"started by {kind}: trains whatever the cooldown"
    last = last_training(tracking_uri, experiment)
    if last is None:
        return f"no training of {experiment} yet"
    status, started = last
    if status == "RUNNING":
        raise Skip(f"a training of {experiment} is running: one retraining at a time")
    age = time.time() - started
    if age < cooldown:
        raise Skip(f"the last training of {experiment} started {age:.0f}s ago, within the cooldown of {cooldown:g}s")
    return f"the last training started {age:.0f}s ago (cooldown {cooldown:g}s)"


def last_training(tracking_uri: str, experiment: str) -> tuple[str, float] | None:
    """(status, start time in seconds) of the newest run of `experiment`, or None without any."""
    api = f"{tracking_uri.rstrip('/')}/api/2.0/mlflow"
    found = httpx.get(f"{api}/experiments/get-by-name", params={"experiment_name": experiment}, timeout=30)
    if found.status_code == 404:
        return None
    found.raise_for_status()
    experiment_id = found.json()["experiment"]["experiment_id"]
    body = {"experiment_ids": [experiment_id], "order_by": ["attributes.start_time DESC"], "max_results": 1}
    runs = httpx.post(f"{api}/runs/search", json=body, timeout=30)
    runs.raise_for_status()
    listed = runs.json().get("runs", [])
    if not listed:
        return None
    info = listed[0]["info"]
    return str(info["status"]), int(info["start_time"]) / 1000


def query_prometheus(url: str, query: str) -> float | None:
    """The largest value of an instant query; None when it returns nothing."""
    response = httpx.get(f"{url.rstrip('/')}/api/v1/query", params={"query": query}, timeout=10)
    response.raise_for_status()
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus rejected the query: {body.get('error')}")
    result = body["data"]["result"]
    if body["data"].get("resultType") == "scalar":
        return float(result[1])
    values = [float(item["value"][1]) for item in result]
    return max(values) if values else None


def check_signal(url: str, query: str, threshold: float) -> float:
    """Succeed (emitting the signal asset) only when the query is above the threshold; skip otherwise."""
    value = query_prometheus(url, query)
    if value is None or value <= threshold:
        raise Skip(f"signal {value} is not above {threshold}: no retraining")
    log.info("signal %s is above %s: retraining", value, threshold)
    return value
