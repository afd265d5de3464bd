"""PostgreSQL: the CloudNativePG cluster, databases, roles and their Secrets (templates/postgres/)."""

from __future__ import annotations

import base64

DATABASES = {"mlflow", "airflow", "warehouse"}


def test_each_database_has_an_owner_with_a_rendered_secret(platform):
    (cluster,) = platform.of_kind("Cluster")
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    databases = {d["spec"]["name"]: d for d in platform.of_kind("Database")}
    assert set(databases) == DATABASES
    for name, database in databases.items():
        assert database["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
        owner = database["spec"]["owner"]
        secret = platform.get("Secret", roles[owner]["passwordSecret"]["name"])
        assert secret["type"] == "kubernetes.io/basic-auth"
        assert base64.b64decode(secret["data"]["username"]).decode() == owner, name


def test_debezium_role_can_replicate(platform):
    (cluster,) = platform.of_kind("Cluster")
    debezium = next(r for r in cluster["spec"]["managed"]["roles"] if r["name"] == "debezium")
    assert debezium["replication"] is True and debezium["login"] is True
    assert cluster["spec"]["postgresql"]["parameters"]["wal_level"] == "logical"


def test_bootstrap_secret_is_the_warehouse_owner(platform):
    (cluster,) = platform.of_kind("Cluster")
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    assert initdb["database"] == initdb["owner"] == "warehouse"
    platform.get("Secret", initdb["secret"]["name"])


def test_prod_postgres_is_replicated_across_nodes(prod, dev):
    (cluster,) = prod.of_kind("Cluster")
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["affinity"]["podAntiAffinityType"] == "required"
    assert cluster["spec"]["enablePDB"] is True
    (small,) = dev.of_kind("Cluster")
    assert small["spec"]["instances"] == 1 and small["spec"]["enablePDB"] is False


def test_postgres_image_is_pinned(platform):
    (cluster,) = platform.of_kind("Cluster")
    name, _, tag = cluster["spec"]["imageName"].rpartition(":")
    assert name.endswith("cloudnative-pg/postgresql") and tag and tag != "latest"
