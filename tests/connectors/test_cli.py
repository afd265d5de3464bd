"""`mlp connectors` against the real Connect worker, PostgreSQL and Kafka of the test instance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from mlplatform.config import Settings
from mlplatform.credentials import Credentials
from mlplatform.tools import PROJECT_ROOT

from tests.conftest import run_mlp
from tests.runtime.helpers import unique, wait_for

UPSTREAM = PROJECT_ROOT.parent / "shared" / "upstream"


def apply(folder: Path, *extra: str, check: bool = True) -> Any:
    result = run_mlp("connectors", "apply", "--dir", str(folder), "--json", *extra, check=check)
    return json.loads(result.stdout) if result.returncode == 0 else result


def file_source(folder: Path, name: str, settings: Settings) -> None:
    (folder / f"{name}.yaml").write_text(
        yaml.safe_dump(
            {
                "name": name,
                "class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
                "config": {"file": str(settings.home / f"{name}.txt"), "topic": name.replace("-", "_")},
            }
        )
    )


def connectors(settings: Settings) -> list[str]:
    response = httpx.get(f"http://{settings.host}:{settings.connect.port}/connectors", timeout=10)
    return list(response.json())


def test_shipped_definitions_apply_run_and_reapply_changes_nothing(platform: Settings) -> None:
    first = apply(PROJECT_ROOT / "connectors")
    assert {c["name"]: c["action"] for c in first["changes"]} == {
        "transactions-analytics-sink": "create",
        "transactions-cdc": "create",
    }
    assert all(o["state"] == "RUNNING" and o["tasks"] == ["RUNNING"] for o in first["outcomes"]), first

    second = apply(PROJECT_ROOT / "connectors")
    assert [c["action"] for c in second["changes"]] == ["unchanged", "unchanged"]
    assert all(c["diff"] == [] for c in second["changes"])


def test_sink_lands_captured_rows_in_postgres(platform: Settings, credentials: Credentials) -> None:
    apply(PROJECT_ROOT / "connectors")
    account = unique("acct")
    with psycopg.connect(credentials.postgres_dsn("warehouse"), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO transactions (account_id, merchant, category, amount) VALUES (%s, 'shop', 'food', 19.99)",
            (account,),
        )

        def landed() -> Any:
            try:
                return conn.execute(
                    "SELECT merchant, amount FROM analytics_transactions WHERE account_id = %s", (account,)
                ).fetchall()
            except psycopg.errors.UndefinedTable:
                return None

        assert wait_for(landed, 90, "the sink to land the captured row") == [("shop", 19.99)]


def test_invalid_definition_is_rejected_per_field_and_nothing_is_applied(platform: Settings, tmp_path: Path) -> None:
    valid = unique("valid-source")
    file_source(tmp_path, valid, platform)
    invalid = tmp_path / "bad-cdc.yaml"
    definition = yaml.safe_load((PROJECT_ROOT / "connectors" / "transactions-cdc.yaml").read_text())
    definition["name"] = unique("bad-cdc")
    definition["config"]["snapshot.mode"] = "sometimes"
    invalid.write_text(yaml.safe_dump(definition))

    result = apply(tmp_path, check=False)

    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "nothing was applied" in message
    assert f"{invalid}: connector '{definition['name']}': snapshot.mode:" in message
    assert valid not in connectors(platform)


def test_dry_run_changes_nothing_and_prune_deletes_undefined_connectors(platform: Settings, tmp_path: Path) -> None:
    kept, stray = unique("kept-source"), unique("stray-source")
    file_source(tmp_path, kept, platform)
    stray_dir = tmp_path / "stray"
    stray_dir.mkdir()
    file_source(stray_dir, stray, platform)
    apply(stray_dir)

    planned = apply(tmp_path, "--dry-run", "--prune")
    actions = {c["name"]: c["action"] for c in planned["changes"]}
    assert actions[kept] == "create" and actions[stray] == "delete"
    assert kept not in connectors(platform) and stray in connectors(platform)

    apply(tmp_path, "--prune")
    current = connectors(platform)
    assert kept in current and stray not in current
    # --prune removed everything without a definition here; put the shipped ones back for other tests.
    apply(PROJECT_ROOT / "connectors")


def test_status_and_list_report_running_connectors(platform: Settings) -> None:
    apply(PROJECT_ROOT / "connectors")
    rows = json.loads(run_mlp("connectors", "status", "--json", "transactions-cdc").stdout)
    assert rows == [{"name": "transactions-cdc", "state": "RUNNING", "tasks": ["RUNNING"], "error": None}]
    assert "transactions-cdc" in json.loads(run_mlp("connectors", "list", "--json").stdout)


def test_unreachable_connect_is_a_clear_error(tmp_path: Path) -> None:
    result = run_mlp("connectors", "--url", "http://127.0.0.1:9", "list", check=False)
    assert result.returncode == 1
    assert "Cannot reach Kafka Connect at http://127.0.0.1:9" in " ".join(result.stderr.split())


def test_export_validates_against_the_kafkaconnector_crd(tmp_path: Path) -> None:
    crd_file = UPSTREAM / "strimzi-kafka-operator-1.2.0" / "crds" / "047-Crd-kafkaconnector.yaml"
    if not crd_file.exists():
        pytest.skip(f"Strimzi's KafkaConnector CRD is not at {crd_file} (../shared/upstream is absent)")
    import jsonschema

    crd = yaml.safe_load(crd_file.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema = version["schema"]["openAPIV3Schema"]
    output = run_mlp("connectors", "export", "--namespace", "mlp").stdout
    resources = list(yaml.safe_load_all(output))
    assert {r["metadata"]["name"] for r in resources} == {"transactions-cdc", "transactions-analytics-sink"}
    for resource in resources:
        assert resource["apiVersion"] == "kafka.strimzi.io/v1" and resource["kind"] == "KafkaConnector"
        jsonschema.validate(resource, schema)


def test_export_needs_no_connect(tmp_path: Path) -> None:
    shutil.copy(PROJECT_ROOT / "connectors" / "transactions-cdc.yaml", tmp_path)
    result = run_mlp("connectors", "--url", "http://127.0.0.1:9", "export", "--dir", str(tmp_path))
    assert "name: transactions-cdc" in result.stdout
