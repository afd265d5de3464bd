"""Kafka: Strimzi custom resources (templates/kafka/): KRaft cluster, topics, users, Connect and metrics."""

from __future__ import annotations

from typing import Any

import yaml

REQUIRED_TOPICS = {"warehouse.public.transactions", "features", "predictions", "prediction-log", "dead-letter"}


def kafka(rendered: Any) -> dict[str, Any]:
    (cluster,) = rendered.of_kind("Kafka")
    return cluster


def test_kafka_is_kraft_v1_with_node_pools(platform):
    cluster = kafka(platform)
    assert cluster["apiVersion"] == "kafka.strimzi.io/v1"
    assert "zookeeper" not in cluster["spec"]
    assert cluster["spec"]["kafka"]["version"] == "4.3.1"
    pools = platform.of_kind("KafkaNodePool")
    assert pools and all(p["apiVersion"] == "kafka.strimzi.io/v1" for p in pools)
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == cluster["metadata"]["name"] for p in pools)
    roles = {r for p in pools for r in p["spec"]["roles"]}
    assert roles == {"controller", "broker"}


def broker_count(rendered: Any) -> int:
    return sum(p["spec"]["replicas"] for p in rendered.of_kind("KafkaNodePool") if "broker" in p["spec"]["roles"])


def test_replication_fits_the_brokers(platform):
    brokers = broker_count(platform)
    config = kafka(platform)["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] <= brokers
    assert config["min.insync.replicas"] < max(brokers, 2)
    for topic in platform.of_kind("KafkaTopic"):
        assert topic["spec"]["replicas"] <= brokers, topic["metadata"]["name"]


def test_prod_has_three_kafka_nodes_and_replicated_topics(prod):
    assert broker_count(prod) == 3
    assert sum(p["spec"]["replicas"] for p in prod.of_kind("KafkaNodePool") if "controller" in p["spec"]["roles"]) == 3
    assert all(t["spec"]["replicas"] == 3 for t in prod.of_kind("KafkaTopic"))
    assert kafka(prod)["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    assert all(p["spec"]["storage"]["volumes"][0]["type"] == "persistent-claim" for p in prod.of_kind("KafkaNodePool"))


def test_platform_topics_exist_for_the_cluster(platform):
    topics = {t["spec"].get("topicName", t["metadata"]["name"]) for t in platform.of_kind("KafkaTopic")}
    assert topics >= REQUIRED_TOPICS
    name = kafka(platform)["metadata"]["name"]
    assert all(t["metadata"]["labels"]["strimzi.io/cluster"] == name for t in platform.of_kind("KafkaTopic"))


def test_each_listener_used_by_users_authenticates(platform):
    listeners = {ln["name"]: ln for ln in kafka(platform)["spec"]["kafka"]["listeners"]}
    assert listeners["scram"]["authentication"]["type"] == "scram-sha-512"
    assert kafka(platform)["spec"]["kafka"]["authorization"]["type"] == "simple"
    for user in platform.of_kind("KafkaUser"):
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        assert user["spec"]["authorization"]["acls"], user["metadata"]["name"]


def test_connect_bootstrap_matches_the_scram_listener(platform):
    (connect,) = platform.of_kind("KafkaConnect")
    cluster = kafka(platform)
    port = next(ln["port"] for ln in cluster["spec"]["kafka"]["listeners"] if ln["name"] == "scram")
    host, _, bootstrap_port = connect["spec"]["bootstrapServers"].rpartition(":")
    assert host.split(".")[0] == f"{cluster['metadata']['name']}-kafka-bootstrap"
    assert host.split(".")[1] == "mlp"
    assert int(bootstrap_port) == port
    auth = connect["spec"]["authentication"]
    users = {u["metadata"]["name"] for u in platform.of_kind("KafkaUser")}
    assert auth["type"] == "scram-sha-512" and auth["username"] in users
    assert auth["passwordSecret"]["secretName"] == auth["username"]


def test_connect_is_managed_over_rest_by_default(platform, render):
    (connect,) = platform.of_kind("KafkaConnect")
    assert connect["metadata"]["annotations"]["strimzi.io/use-connector-resources"] == "false"
    (switched,) = render("kafka.connect.useConnectorResources=true").of_kind("KafkaConnect")
    assert switched["metadata"]["annotations"]["strimzi.io/use-connector-resources"] == "true"


def test_connect_builds_debezium_postgres_from_maven_central(dev):
    (connect,) = dev.of_kind("KafkaConnect")
    artifacts = [a for p in connect["spec"]["build"]["plugins"] for a in p["artifacts"]]
    debezium = [a for a in artifacts if a.get("artifact") == "debezium-connector-postgres"]
    assert debezium == [
        {
            "type": "maven",
            "repository": "https://repo1.maven.org/maven2",
            "group": "io.debezium",
            "artifact": "debezium-connector-postgres",
            "version": "3.7.0.Final",
        }
    ]
    output = connect["spec"]["build"]["output"]
    assert output["type"] == "docker" and ":" in output["image"].rsplit("/", 1)[-1]


def test_connect_build_pushes_where_the_nodes_can_pull_back(platform):
    """The build runs in a pod: a loopback registry would be the build pod itself."""
    (connect,) = platform.of_kind("KafkaConnect")
    host = connect["spec"]["build"]["output"]["image"].split("/", 1)[0].rsplit(":", 1)[0]
    assert host not in {"localhost", "127.0.0.1", "::1", "[::1]"} and not host.startswith("127."), host


def test_metrics_config_points_at_rendered_jmx_rules(platform):
    maps = {cm["metadata"]["name"]: cm for cm in platform.of_kind("ConfigMap")}
    (connect,) = platform.of_kind("KafkaConnect")
    for spec in (kafka(platform)["spec"]["kafka"], connect["spec"]):
        ref = spec["metricsConfig"]["valueFrom"]["configMapKeyRef"]
        assert spec["metricsConfig"]["type"] == "jmxPrometheusExporter"
        rules = yaml.safe_load(maps[ref["name"]]["data"][ref["key"]])
        assert rules["rules"], ref


def test_connect_rest_api_is_reachable_through_a_service_and_optional_ingress(dev, render):
    service = dev.get("Service", "mlp-connect-rest")
    assert service["spec"]["selector"] == {"strimzi.io/cluster": "mlp", "strimzi.io/kind": "KafkaConnect"}
    assert service["spec"]["ports"][0]["targetPort"] == 8083
    assert not dev.of_kind("Ingress")
    with_ingress = render("kafka.connect.rest.ingress.enabled=true", "kafka.connect.rest.ingress.host=connect.test")
    ingress = with_ingress.get("Ingress", "mlp-connect-rest")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert ingress["spec"]["rules"][0]["host"] == "connect.test" and backend["name"] == "mlp-connect-rest"


def test_connect_may_read_only_the_debezium_secret(dev):
    role = dev.get("Role", "mlp-connect-secrets")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["mlp-pg-debezium"], "verbs": ["get"]}
    ]
    binding = dev.get("RoleBinding", "mlp-connect-secrets")
    assert binding["subjects"][0]["name"] == "mlp-connect"
    dev.get("Secret", "mlp-pg-debezium")


def test_connect_offers_connector_definitions_the_same_variables_as_the_local_worker(platform, tmp_path):
    """One connector definition serves both: ${env:PLATFORM_*} must resolve in the cluster as locally."""
    from mlplatform.config import Settings
    from mlplatform.runtime.services.connect import Connect

    (connect,) = platform.of_kind("KafkaConnect")
    config = connect["spec"]["config"]
    assert "env" in config["config.providers"].split(",")
    assert config["config.providers.env.class"] == "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
    env = {e["name"]: e for e in connect["spec"]["template"]["connectContainer"]["env"]}
    local = Connect(Settings(home=tmp_path)).environment()
    assert set(local) <= set(env)
    for name in ("PLATFORM_POSTGRES_PASSWORD", "PLATFORM_S3_SECRET_KEY"):
        assert "secretKeyRef" in env[name]["valueFrom"] and "value" not in env[name], name
    plugins = {p["name"] for p in connect["spec"]["build"]["plugins"]}
    assert {"debezium-postgres", "debezium-jdbc"} <= plugins
