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
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families
from rich.table import Table

from mlplatform.airflow_client import AirflowClient
from mlplatform.config import Settings
from mlplatform.connectors import operations
from mlplatform.connectors.client import ConnectClient
from mlplatform.connectors.definitions import load_definitions
from mlplatform.console import console
from mlplatform.credentials import Credentials
from mlplatform.errors import PlatformError
from mlplatform.observability import panels
from mlplatform.polling import poll
from mlplatform.runtime.services.airflow import Airflow
from mlplatform.tools import PROJECT_ROOT, Toolchain

RECIPE = "fraud-detection"
MODEL = "fraud-detector"
EXAMPLE = PROJECT_ROOT / "examples" / "fraud-detection"
ROWS_PER_RUN = 3000
#: Transactions streamed after the promotion, scored by the champion (enough for drift's statistics).
LIVE_ROWS = 400
#: Transactions streamed while the judge watches a canary: enough model calls of both versions for its gates.
CANARY_ROWS = 1200
LIVE_SPAN_SECONDS = 600
LIVE_TIMEOUT = 300.0
DASHBOARD_TIMEOUT = 180.0
#: Bound on one pipeline run (the scheduler may first finish a scheduled run: max_active_runs is 1).
PIPELINE_TIMEOUT = 1200.0


class Demo:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tools = Toolchain(settings)
        self.airflow = Airflow(settings)
        self.counter = settings.run_dir / "demo-runs"

    def run(self) -> dict[str, Any]:
        number = int(self.counter.read_text()) + 1 if self.counter.exists() else 1
        started = time.monotonic()
        self._step(f"Generating {ROWS_PER_RUN} transactions (seed {number})", self.generate, number)
        self._step("Applying connectors (CDC into Kafka, sink into PostgreSQL)", self.apply_connectors)
        decision, judgement = self.run_pipeline(number)
        summary = self.summary(decision)
        summary["judge"] = judgement
        self._step("Sending predictions to the served champion", self.predict, summary)
        summary["live_predictions"] = self.stream_live(number)
        summary["dashboards"] = self.wait_for_dashboards()
        self.counter.write_text(str(number))
        self.print_summary(number, summary, time.monotonic() - started)
        self.print_dashboards(summary["dashboards"])
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

    def generate(
        self,
        seed: int,
        rows: int = ROWS_PER_RUN,
        end: datetime | None = None,
        span: float = 0,
        accounts: int | None = None,
    ) -> None:
        """Rows into the warehouse's transactions (examples/fraud-detection/generate.py); live ones (`end`) come
        from about one account per row unless `accounts` says otherwise, so each account keeps training's pace."""
        python = self.tools.python_env("fraud-detection") / "bin" / "python"
        argv = [str(python), str(EXAMPLE / "generate.py"), "--rows", str(rows), "--seed", str(seed)]
        if end is not None:
            argv += ["--end", end.isoformat(), "--span-seconds", str(span), "--accounts", str(accounts or rows)]
        _run(argv, {**os.environ, **self._warehouse_env()}, "generating demo data")

    def stream_live(self, number: int) -> int:
        """Transactions newer than any so far go through CDC, features and the champion; returns those logged.

        They start after the warehouse's newest row, so no account sees them as late events, and end at most
        LIVE_SPAN_SECONDS after it, so none is stamped too far ahead for Kafka.
        """
        end = self.live_start(LIVE_SPAN_SECONDS) + timedelta(seconds=LIVE_SPAN_SECONDS + 1)
        before = self._logged_predictions()
        started = time.monotonic()
        self.generate(10_000 + number, LIVE_ROWS, end, LIVE_SPAN_SECONDS)
        with console.status("Scoring live transactions…") as status:

            def logged() -> float:
                count = self._logged_predictions() - before
                status.update(f"Scoring live transactions: {count:.0f} of {LIVE_ROWS} in the prediction log…")
                return count

            poll(
                logged,
                until=lambda count: count >= LIVE_ROWS,
                timeout=LIVE_TIMEOUT - (time.monotonic() - started),
                interval=1,
                error=lambda count: PlatformError(
                    f"only {count:.0f} of {LIVE_ROWS} live transactions were scored in {LIVE_TIMEOUT:.0f}s: "
                    "see `mlp logs features`, `mlp logs scoring` and the dead-letter topic"
                ),
            )
        seconds = time.monotonic() - started
        console.print(f"[green]✔[/] Scored {LIVE_ROWS} live transactions into the prediction log ({seconds:.0f}s)")
        return LIVE_ROWS

    def live_start(self, span: float = 0) -> datetime:
        """Where live transactions may start: after the warehouse's newest row, and at most `span` seconds ago."""
        dsn = Credentials(self.settings).postgres_dsn("warehouse")
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT max(created_at) FROM public.transactions").fetchone()
        newest = row[0] if row else None
        now = datetime.now(tz=UTC)
        return max(now - timedelta(seconds=span), newest.astimezone(UTC) if newest else now)

    def _logged_predictions(self) -> float:
        """The scoring processor's count of records written to the prediction log."""
        url = f"http://{self.settings.host}:{self.settings.streaming.scoring_metrics_port}/metrics"
        response = httpx.get(url, timeout=10)
        response.raise_for_status()
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == "mlp_stream_events_out_total" and sample.labels.get("topic") == "prediction-log":
                    return sample.value
        return 0.0

    def wait_for_dashboards(self) -> list[panels.Coverage]:
        """Wait until every panel has data (rates need two scrapes; the exporter refreshes every 15s)."""
        prometheus = f"http://{self.settings.host}:{self.settings.prometheus.port}"
        queries = panels.panel_queries()
        with console.status("Waiting for the dashboards' panels to show data…") as status:

            def covered() -> list[panels.Coverage]:
                found = panels.coverage(prometheus, queries)
                empty = sum(len(c.empty) for c in found)
                status.update(f"Waiting for the dashboards' panels to show data: {empty} of {len(queries)} empty…")
                return found

            # Settles for what it has after the timeout: the demo then prints which panels are still empty.
            return poll(
                covered, until=lambda found: not any(c.empty for c in found), timeout=DASHBOARD_TIMEOUT, interval=5
            )

    def apply_connectors(self) -> None:
        client = ConnectClient(f"http://{self.settings.host}:{self.settings.connect.port}")
        definitions = load_definitions(PROJECT_ROOT / "connectors")
        changes = operations.checked_plan(client, definitions, prune=False)
        operations.execute(client, changes)
        failed = [o for o in operations.wait_running(client, [c.name for c in changes], 120) if o.failed]
        if failed:
            raise PlatformError(f"connectors not running: {', '.join(f'{o.name}: {o.error}' for o in failed)}")

    def run_pipeline(self, number: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """Trigger the recipe's DAG on the platform's Airflow and follow its tasks; while the judge watches a canary,
        stream live transactions for it to judge. Returns the promoter's and the judge's decisions."""
        airflow = self.airflow
        client = AirflowClient(
            airflow.url(self.settings.airflow.port), self.settings.airflow.admin_user, airflow.admin_password()
        )
        started = time.monotonic()
        feeder: LiveFeeder | None = None
        with console.status("Running the pipeline…") as status:
            # From the second run on, the new model challenges the champion on live traffic as a canary (the
            # promoter's live comparison), as a retraining started by new data or drift does.
            run_id = client.trigger(RECIPE, conf={"compare": "live"} if number > 1 else None)

            def show(states: dict[str, str]) -> None:
                nonlocal feeder
                if feeder is None and states.get("promote") == "success":
                    feeder = LiveFeeder(self, number)
                    if client.xcom(RECIPE, run_id, "promote").get("decision") == "canary":
                        feeder.start()
                traffic = f"; {feeder.rows} live transactions for the canary" if feeder and feeder.rows else ""
                tasks = ", ".join(f"{task} {state}" for task, state in states.items())
                status.update(f"Running the pipeline {RECIPE} ({time.monotonic() - started:.0f}s): {tasks}{traffic}…")

            try:
                state = client.wait(RECIPE, run_id, PIPELINE_TIMEOUT, show)
            finally:
                if feeder is not None:
                    feeder.finish()
        states = client.task_states(RECIPE, run_id)
        if state != "success":
            failed = [task for task, task_state in states.items() if task_state in ("failed", "upstream_failed")]
            tail = client.log_tail(RECIPE, run_id, failed[0]) if failed else ""
            raise PlatformError(
                f"the {RECIPE} pipeline run {run_id} {state} (tasks: {states}); last log lines of "
                f"{failed[0] if failed else 'the run'}:\n{tail}\nFull logs: "
                f"{airflow.url(self.settings.airflow.port)}/dags/{RECIPE}/runs/{run_id}"
            )
        console.print(
            f"[green]✔[/] Running the pipeline: quality gate, train, promote, judge ({time.monotonic() - started:.0f}s)"
        )
        decision: dict[str, Any] = client.xcom(RECIPE, run_id, "promote")
        judgement: dict[str, Any] = client.xcom(RECIPE, run_id, "judge")
        return decision, judgement

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

    def print_dashboards(self, found: list[panels.Coverage]) -> None:
        table = Table(title="Dashboards (charts/mlplatform/dashboards/, in Grafana on the cluster)")
        table.add_column("Dashboard")
        table.add_column("Panels with data", justify="right")
        table.add_column("Still empty")
        for entry in found:
            table.add_row(
                entry.dashboard, f"{entry.panels - len(entry.empty)} / {entry.panels}", ", ".join(entry.empty)
            )
        console.print(table)
        s = self.settings
        console.print(
            f"Every panel query runs on the local Prometheus: http://{s.host}:{s.prometheus.port}/graph. "
            "To see the dashboards themselves, import the JSON files into any Grafana with this Prometheus as its "
            "data source (README: Dashboards)."
        )

    def print_summary(self, number: int, summary: dict[str, Any], seconds: float) -> None:
        decision = summary["decision"]
        table = Table(title=f"Demo run {number} ({seconds:.0f}s)", show_header=False)
        table.add_row("Promoter decision", str(decision.get("decision")))
        for reason in decision.get("reasons", []):
            table.add_row("  reason", str(reason))
        table.add_row("Best run", str(decision.get("run_id")))
        judge = summary.get("judge") or {}
        table.add_row("Judge's decision", str(judge.get("decision")))
        record = judge.get("judgement") or {}
        for gate in record.get("gates", []):
            verdict = {True: "passed", False: "FAILED", None: "not evaluated"}[gate["passed"]]
            table.add_row(f"  gate {gate['name']}", f"{verdict}: {gate['detail']}")
        if judge.get("decision") in ("finalized", "rolled_back"):
            table.add_row(
                "  window", f"{record.get('window_seconds')}s of live traffic: {json.dumps(record.get('measured'))}"
            )
        elif judge.get("reasons"):
            table.add_row("  reason", str(judge["reasons"][0]))
        table.add_row(f"Model {MODEL}", f"version {summary['champion_version']} has alias champion")
        table.add_row("Champion metrics", json.dumps(summary["champion_metrics"]))
        table.add_row("Endpoint (V2)", summary["endpoint"])
        table.add_row("Live transactions scored", f"{summary['live_predictions']} (topic prediction-log)")
        table.add_row(
            "Sample prediction", f"{summary['sample_prediction']} for {json.dumps(summary['sample_request'])}"
        )
        s = self.settings
        table.add_row("MLflow", f"http://{s.host}:{s.mlflow.port}/#/models/{MODEL}")
        table.add_row("Prometheus", f"http://{s.host}:{s.prometheus.port}/targets")
        console.print(table)


class LiveFeeder(threading.Thread):
    """Live transactions for the judge to watch a canary on: CANARY_ROWS newer than any so far, scored by the
    champion and the canary as the sticky split sends each account."""

    def __init__(self, demo: Demo, number: int) -> None:
        super().__init__(name="demo-live-feeder", daemon=True)
        self.demo, self.number, self.rows = demo, number, 0
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            end = self.demo.live_start(LIVE_SPAN_SECONDS) + timedelta(seconds=LIVE_SPAN_SECONDS + 1)
            self.demo.generate(20_000 + self.number, CANARY_ROWS, end, LIVE_SPAN_SECONDS)
            self.rows = CANARY_ROWS
        except Exception as exc:  # shown when the feeder is finished
            self.error = exc

    def finish(self) -> None:
        if self.is_alive():
            self.join(timeout=120)
        if self.error is not None:
            raise PlatformError(f"streaming live transactions for the canary failed: {self.error}")


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
