"""`mlp demo`: the platform's main job end to end on the local platform.

New demo data lands in the warehouse; the connectors capture it into Kafka, where the stream
processors turn it into features and score them; the recipe's pipeline (the real Airflow DAG, in
local mode) checks the data, trains the MLflow project and lets the promoter decide; the champion is
served by MLServer and answers predictions. Every run adds data and trains again, so a second run
shows the promoter's decision against the first run's champion.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from typing import Any

import httpx
from rich.table import Table

from mlplatform.config import Settings
from mlplatform.connectors import operations
from mlplatform.connectors.client import ConnectClient
from mlplatform.connectors.definitions import load_definitions
from mlplatform.console import console
from mlplatform.errors import PlatformError
from mlplatform.runtime import services
from mlplatform.tools import PROJECT_ROOT, Toolchain

RECIPE = "fraud-detection"
MODEL = "fraud-detector"
EXAMPLE = PROJECT_ROOT / "examples" / "fraud-detection"
ROWS_PER_RUN = 3000


class Demo:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tools = Toolchain(settings)
        self.airflow = services.get(settings, "airflow")
        self.counter = settings.run_dir / "demo-runs"

    def run(self) -> dict[str, Any]:
        number = int(self.counter.read_text()) + 1 if self.counter.exists() else 1
        started = time.monotonic()
        self._step(f"Generating {ROWS_PER_RUN} transactions (seed {number})", self.generate, number)
        self._step("Applying connectors (CDC into Kafka, sink into PostgreSQL)", self.apply_connectors)
        output = self._step("Running the pipeline: quality gate, train, promote", self.run_pipeline)
        decision = decision_from_output(output)
        summary = self.summary(decision)
        self._step("Sending predictions to the served champion", self.predict, summary)
        self.counter.write_text(str(number))
        self.print_summary(number, summary, time.monotonic() - started)
        return summary

    def _step(self, what: str, action: Any, *args: Any) -> Any:
        started = time.monotonic()
        with console.status(f"{what}…"):
            result = action(*args)
        console.print(f"[green]✔[/] {what} ({time.monotonic() - started:.0f}s)")
        return result

    # -- steps -------------------------------------------------------------------------------------
    def _warehouse_env(self) -> dict[str, str]:
        env = self.airflow.environment()
        return {"WAREHOUSE_DSN": env["MLP_PIPELINES__WAREHOUSE_DSN"], "WAREHOUSE_PASSWORD": env["WAREHOUSE_PASSWORD"]}

    def generate(self, seed: int) -> None:
        python = self.tools.python_env("fraud-detection") / "bin" / "python"
        argv = [str(python), str(EXAMPLE / "generate.py"), "--rows", str(ROWS_PER_RUN), "--seed", str(seed)]
        _run(argv, {**os.environ, **self._warehouse_env()}, "generating demo data")

    def apply_connectors(self) -> None:
        client = ConnectClient(f"http://{self.settings.host}:{self.settings.connect.port}")
        definitions = load_definitions(PROJECT_ROOT / "connectors")
        operations.require_valid(operations.validate(client, definitions))
        changes = operations.plan(client, definitions, prune=False)
        operations.execute(client, changes)
        failed = [o for o in operations.wait_running(client, [c.name for c in changes], 120) if o.failed]
        if failed:
            raise PlatformError(f"connectors not running: {', '.join(f'{o.name}: {o.error}' for o in failed)}")

    def run_pipeline(self) -> str:
        """Run the recipe's DAG once (`airflow dags test`) and return its output, task logs included."""
        env = {**os.environ, **self.airflow.environment(), "COLUMNS": "100000"}  # no wrapped log lines
        airflow = self.tools.python_env("pipelines") / "bin" / "airflow"
        return _run([str(airflow), "dags", "test", RECIPE], env, f"the {RECIPE} pipeline")

    def summary(self, decision: dict[str, Any]) -> dict[str, Any]:
        api = f"http://{self.settings.host}:{self.settings.mlflow.port}/api/2.0/mlflow"
        champion = _get(f"{api}/registered-models/alias", name=MODEL, alias="champion")["model_version"]
        run = _get(f"{api}/runs/get", run_id=champion["run_id"])["run"]
        metrics = {m["key"]: round(m["value"], 4) for m in run["data"].get("metrics", [])}
        return {
            "decision": decision,
            "champion_version": champion["version"],
            "champion_run": champion["run_id"],
            "champion_metrics": dict(sorted(metrics.items())),
            "endpoint": f"http://{self.settings.host}:{self.settings.model_server.port}/v2/models/{MODEL}/infer",
        }

    def predict(self, summary: dict[str, Any]) -> None:
        columns = ["amount", *(f"{w}_{s}" for w in ("tumbling", "hopping") for s in ("count", "sum", "mean", "max"))]
        sample = [120.0, 1, 120.0, 120.0, 120.0, 3, 180.0, 60.0, 120.0]
        request = {
            "id": f"demo-{int(time.time())}",
            "parameters": {"content_type": "pd"},
            "inputs": [
                {"name": name, "shape": [1], "datatype": "FP64", "data": [value]}
                for name, value in zip(columns, sample, strict=True)
            ],
        }
        response = httpx.post(summary["endpoint"], json=request, timeout=30)
        if response.status_code != 200:
            raise PlatformError(f"the served model answered {response.status_code}: {response.text[:300]}")
        body = response.json()
        summary["sample_request"] = dict(zip(columns, sample, strict=True))
        summary["sample_prediction"] = body["outputs"][0]["data"][0]
        summary["served_version"] = body.get("model_version")

    def print_summary(self, number: int, summary: dict[str, Any], seconds: float) -> None:
        decision = summary["decision"]
        table = Table(title=f"Demo run {number} ({seconds:.0f}s)", show_header=False)
        table.add_row("Promoter decision", str(decision.get("decision")))
        for reason in decision.get("reasons", []):
            table.add_row("  reason", str(reason))
        table.add_row("Best run", str(decision.get("run_id")))
        table.add_row(f"Model {MODEL}", f"version {summary['champion_version']} has alias champion")
        table.add_row("Champion metrics", json.dumps(summary["champion_metrics"]))
        table.add_row("Endpoint (V2)", summary["endpoint"])
        table.add_row(
            "Sample prediction", f"{summary['sample_prediction']} for {json.dumps(summary['sample_request'])}"
        )
        s = self.settings
        table.add_row("MLflow", f"http://{s.host}:{s.mlflow.port}/#/models/{MODEL}")
        table.add_row("Prometheus", f"http://{s.host}:{s.prometheus.port}/targets")
        console.print(table)


def decision_from_output(output: str) -> dict[str, Any]:
    """The promoter's JSON decision: it prints it on stdout, which the promote task logs line by line."""
    lines = [_message(line) for line in output.splitlines()]
    starts = [
        i for i in range(len(lines) - 1) if lines[i].strip() == "{" and lines[i + 1].strip().startswith('"model_name"')
    ]
    for end in range(starts[-1] + 1, len(lines)) if starts else ():
        if lines[end].strip() == "}":
            try:
                decision: dict[str, Any] = json.loads("\n".join(lines[starts[-1] : end + 1]))
                return decision
            except ValueError:
                continue
    raise PlatformError("no promoter decision in the pipeline's output:\n" + "\n".join(lines[-40:]))


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z (?:\[\w+\s*\] )?(.*?)\s*(?:\[[\w.]+\]\s*)?(?:loc=\S+.*)?$")


def _message(line: str) -> str:
    """A task log line's message, without Airflow's timestamp and source location."""
    match = LOG_LINE.match(line)
    return match.group(1) if match else line


def _get(url: str, **params: str) -> Any:
    response = httpx.get(url, params=params, timeout=30)
    if response.status_code != 200:
        raise PlatformError(f"MLflow answered {response.status_code} for {url}: {response.text[:300]}")
    return response.json()


def _run(argv: list[str], env: dict[str, str], what: str) -> str:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise PlatformError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout + result.stderr
