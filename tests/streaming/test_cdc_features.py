"""A row inserted into `transactions` becomes a feature vector, through the real Debezium connector."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import yaml
from mlplatform.config import Settings
from mlplatform.credentials import Credentials

from tests.runtime.helpers import connector_running, drop_connector, unique, wait_for, wait_for_streaming_slot
from tests.streaming.helpers import ROOT, Streams, TopicReader

CONNECTOR = ROOT / "connectors" / "transactions-cdc.yaml"
WAREHOUSE_SQL = ROOT / "platform" / "runtimes" / "postgres" / "warehouse.sql"


def register_transactions_cdc(settings: Settings, credentials: Credentials, name: str, prefix: str) -> None:
    """The project's connector definition, with this instance's database and unique names."""
    definition = yaml.safe_load(Path(CONNECTOR).read_text())
    config = {k: str(v) for k, v in definition["config"].items()}
    config.update(
        {
            "connector.class": definition["class"],
            "database.hostname": settings.host,
            "database.port": str(settings.postgres.port),
            "database.user": settings.postgres.user,
            "database.password": "${env:PLATFORM_POSTGRES_PASSWORD}",
            "topic.prefix": prefix,
            "slot.name": name,
            "publication.name": f"pub_{name}",
            # The warehouse is shared by the whole suite (the demo alone leaves tens of thousands of rows):
            # this test is about rows inserted now, so it streams changes without a snapshot of the table.
            "snapshot.mode": "no_data",
        }
    )
    url = f"http://{settings.host}:{settings.connect.port}"
    response = httpx.put(f"{url}/connectors/{name}/config", json=config, timeout=120)
    assert response.status_code in (200, 201), response.text
    wait_for(lambda: connector_running(url, name), 90, f"connector {name} to run")
    wait_for_streaming_slot(credentials, name)


def test_an_inserted_transaction_becomes_a_feature_vector(streams: Streams, credentials: Credentials) -> None:
    settings = streams.settings
    name, prefix = unique("tx_cdc"), unique("wh")
    streams.extra["MLP_STREAMING__SOURCE_TOPIC"] = f"{prefix}.public.transactions"
    with psycopg.connect(credentials.postgres_dsn("warehouse"), autocommit=True) as conn:
        conn.execute(WAREHOUSE_SQL.read_text())
    register_transactions_cdc(settings, credentials, name, prefix)
    try:
        worker = streams.processor("features").start()
        account = unique("acct")
        with psycopg.connect(credentials.postgres_dsn("warehouse"), autocommit=True) as conn:
            ids = [
                conn.execute(
                    "INSERT INTO public.transactions (account_id, merchant, category, amount) "
                    "VALUES (%s, 'grocer', 'food', %s) RETURNING id",
                    (account, amount),
                ).fetchone()[0]
                for amount in ("12.50", "7.25")
            ]

        reader = TopicReader(settings, streams.topic("features"))
        try:
            vectors = reader.wait(
                lambda values: len([v for v in values if v["account_id"] == account]) >= 2,
                120,
                f"feature vectors of {account}",
            )
        finally:
            reader.close()
        mine = [v for v in vectors if v["account_id"] == account]
        assert [v["transaction_id"] for v in mine] == ids
        assert [v["amount"] for v in mine] == [12.5, 7.25]
        last = mine[-1]["windows"]
        assert (last["tumbling"]["count"], last["tumbling"]["sum"]) in {
            (2, 19.75),
            (1, 7.25),
        }
        assert (last["hopping"]["count"], last["hopping"]["max"]) == (2, 12.5)
        assert mine[0]["source"]["topic"] == f"{prefix}.public.transactions"
        assert worker.alive, worker.log_tail()
    finally:
        drop_connector(settings, credentials, name)
