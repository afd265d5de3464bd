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


def promote(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run the promoter; its JSON decision (its whole stdout) becomes the task's XCom, read by `mlp demo`."""
    if not Path(argv[0]).exists():
        raise Skip(f"the promoter is not installed ({argv[0]} is missing): nothing promoted")
    log.info("running: %s", " ".join(argv))
    result = subprocess.run(argv, env=child_environment(env, None), capture_output=True, text=True, check=False)
    for line in result.stderr.splitlines():
        log.info("%s", line)
    log.info("decision: %s", result.stdout)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-20:])
        raise StepFailed(f"{Path(argv[0]).name} exited with {result.returncode}; last output:\n{tail}")
    decision: dict[str, Any] = json.loads(result.stdout)
    return decision


def quality_gate(dsn: str, checks: dict[str, Any] | None) -> dict[str, Any]:
    """Fail the run early, with the report as the error, when the training data breaks the recipe's checks."""
    if checks is None:
        log.info("the recipe has no data-quality checks")
        return {"checked": False}
    report = run_gate(dsn, DataQuality.model_validate(checks))
    log.info("%s", report.render())
    return {"checked": True, "rows": report.rows, "null_shares": report.null_shares}


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
