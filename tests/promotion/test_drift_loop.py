"""Drift retrains by itself: drifted transactions in the warehouse start the whole loop, with no manual trigger.

On the platform `mlp demo` leaves running (the fraud-detection champion served, features and scoring live, the
model-metrics exporter measuring the champion's feature drift against training), the test writes transactions
from a few very busy accounts into the warehouse: the per-account window features shift. It then lets the
recipe's drift watcher run (the test instance starts recipe DAGs paused and has the watcher look every minute:
tests/conftest.py TEST_CADENCES). Nothing else starts anything: the exporter's PSI crosses the recipe's
`max_psi`, the watcher emits the recipe's signal asset, the training DAG runs (debounce, quality gate, train),
the promoter puts the newest model beside the champion as a canary (a run started by an asset compares live),
live transactions reach both versions, and the judge finalizes or rolls the canary back, on record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml
from mlflow import MlflowClient
from mlplatform.airflow_client import AirflowClient
from mlplatform.config import Settings
from mlplatform.demo import LIVE_SPAN_SECONDS, MODEL, RECIPE, Demo, LiveFeeder
from mlplatform.runtime.services.airflow import Airflow

from tests.promotion.helpers import audit
from tests.runtime.helpers import wait_for

WATCHER = f"{RECIPE}-drift"
#: Transactions from DRIFTED_ACCOUNTS accounts in ten minutes: each account far busier than in training.
DRIFTED_ROWS, DRIFTED_ACCOUNTS = 1000, 10


@pytest.fixture
def airflow(airflow_client: AirflowClient) -> Iterator[AirflowClient]:
    client = airflow_client
    client.set_paused(RECIPE, paused=False)  # the demo fixture leaves it paused; asset-triggered runs need it
    yield client
    # Nothing keeps retraining behind the later tests: the watcher and the recipe paused, unfinished runs failed.
    client.set_paused(WATCHER, paused=True)
    client.set_paused(RECIPE, paused=True)
    for run in client.runs(RECIPE):
        if run["state"] in ("queued", "running"):
            client.set_run_state(RECIPE, run["dag_run_id"], "failed")


def feature_drift(prometheus: str, version: str) -> dict[str, float]:
    """Each feature's PSI as the exporter reports it for `version` (empty before it has any)."""
    query = f'mlp_model_feature_drift_psi{{model="{MODEL}", version="{version}"}}'
    result = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10).json()["data"]["result"]
    return {series["metric"].get("feature", "?"): float(series["value"][1]) for series in result}


def champion_drift(prometheus: str, version: str) -> float | None:
    """The largest feature PSI of `version`, or None before the exporter has any."""
    found = feature_drift(prometheus, version)
    return max(found.values()) if found else None


def started_after(run: dict[str, Any], moment: datetime) -> bool:
    """Whether the run really started after `moment` (a scheduled run's `run_after` is its interval, which may be
    earlier: the watcher's first run after it is unpaused can be for the minute before)."""
    started = run.get("start_date")
    return started is not None and datetime.fromisoformat(started.replace("Z", "+00:00")) >= moment


# The demo (when no earlier test ran it), the drift, a cooldown, a training, a canary and its judgement.
@pytest.mark.timeout(2400)
def test_drifted_transactions_retrain_and_canary_a_model_with_no_trigger(
    platform: Settings, demo: Any, airflow: AirflowClient, client: MlflowClient
) -> None:
    prometheus = f"http://{platform.host}:{platform.prometheus.port}"
    recipe = yaml.safe_load((Airflow(platform).recipes_dir / f"{RECIPE}.yaml").read_text())
    max_psi = float(recipe["triggers"]["drift"]["max_psi"])
    champion = client.get_model_version_by_alias(MODEL, "champion").version
    # The demo's live transactions keep training's per-account pace: no drift before the test's own rows.
    before = wait_for(lambda: champion_drift(prometheus, champion), 120, f"the drift of version {champion}")
    assert before <= max_psi, (
        f"version {champion} drifts (max PSI {before:g} > {max_psi:g}) before any drifted row: "
        f"{feature_drift(prometheus, champion)}"
    )

    since = datetime.now(tz=UTC)
    feeder = Demo(platform)
    end = feeder.live_start(LIVE_SPAN_SECONDS) + timedelta(seconds=LIVE_SPAN_SECONDS + 1)
    feeder.generate(31_000, DRIFTED_ROWS, end, LIVE_SPAN_SECONDS, accounts=DRIFTED_ACCOUNTS)
    drift = wait_for(
        lambda: (value := champion_drift(prometheus, champion)) is not None and value > max_psi and value,
        240,
        f"the drift of version {champion} to cross max_psi {max_psi:g}",
    )
    airflow.set_paused(WATCHER, paused=False)

    # With no trigger from here: the watcher's asset starts a run of the recipe that trains.
    def retraining() -> str | None:
        for run in airflow.runs(RECIPE):
            automatic = run["run_type"] == "asset_triggered" and started_after(run, since)
            if automatic and airflow.task_states(RECIPE, run["dag_run_id"]).get("debounce") == "success":
                return str(run["dag_run_id"])
        return None

    # The cooldown counts from the demo's training; the watcher asks again every minute until it has passed.
    run_id = wait_for(retraining, 900, "a retraining started by the drift watcher", interval=5)
    airflow.set_paused(WATCHER, paused=True)  # one retraining is what this test follows
    # The watcher's evidence: a check that succeeded (emitting the asset) on a value above max_psi.
    emitted = [
        r["dag_run_id"]
        for r in airflow.runs(WATCHER)
        if started_after(r, since) and airflow.task_states(WATCHER, r["dag_run_id"]).get("check_drift") == "success"
    ]
    assert emitted, "no drift-watcher check succeeded, so none emitted the asset"
    assert float(airflow.xcom(WATCHER, emitted[-1], "check_drift")) > max_psi

    promoted = wait_for(
        lambda: airflow.task_states(RECIPE, run_id).get("promote") in ("success", "failed", "upstream_failed"),
        900,
        "the retraining's promote step",
        interval=5,
    )
    assert promoted and airflow.task_states(RECIPE, run_id)["promote"] == "success", airflow.task_states(RECIPE, run_id)
    decision = airflow.xcom(RECIPE, run_id, "promote")
    assert decision["decision"] == "canary", decision
    canary = str(decision["version"])
    assert canary != champion and any("on live traffic" in reason for reason in decision["reasons"]), decision

    # Live transactions at training's pace, split between the champion and the canary, for the judge to weigh.
    live = LiveFeeder(feeder, 31_001)
    live.start()
    try:
        state = airflow.wait(RECIPE, run_id, 600)
    finally:
        live.finish()
    assert state == "success", airflow.task_states(RECIPE, run_id)
    judged = airflow.xcom(RECIPE, run_id, "judge")
    assert judged["decision"] in ("finalized", "rolled_back"), judged
    tags = audit(client, MODEL, canary)
    assert tags["comparison"] == "live" and tags["source_run_id"] == decision["run_id"]
    judgement = json.loads(tags["judgement"])
    assert judgement["decision"] == {"finalized": "finalize", "rolled_back": "rollback"}[judged["decision"]]
    # Both versions had live traffic: each gate on it was measured, none left undecided for want of calls.
    measured = {gate["name"]: gate["passed"] for gate in judgement["gates"]}
    assert all(measured.get(name) is not None for name in ("error_ratio", "latency_p99_ratio", "score_psi")), judgement
    expected = {"finalized": {"champion": canary}, "rolled_back": {"champion": champion}}[judged["decision"]]
    aliases = {alias: client.get_model_version_by_alias(MODEL, alias).version for alias in expected}
    assert aliases == expected, (drift, judgement)
