"""MLflow: the tracking server's Deployment, Service, Secret and monitoring (templates/mlflow/)."""

from __future__ import annotations

import base64
from typing import Any


def server(rendered: Any) -> dict[str, Any]:
    deployment = rendered.get("Deployment", "mlp-mlflow")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container["env"]}


def test_artifacts_are_proxied_to_minio_and_metrics_exposed(platform):
    args = server(platform)["args"]
    assert "--serve-artifacts" in args
    assert "--artifacts-destination=s3://mlflow" in args
    assert any(a.startswith("--expose-prometheus=") for a in args)


def test_backend_store_is_the_cloudnativepg_service(platform):
    (cluster,) = platform.of_kind("Cluster")
    uri = next(a for a in server(platform)["args"] if a.startswith("--backend-store-uri="))
    expected_host = f"{cluster['metadata']['name']}-rw.mlp.svc:5432/mlflow"
    assert uri == f"--backend-store-uri=postgresql://$(DB_USER):$(DB_PASSWORD)@{expected_host}"
    variables = env(server(platform))
    for name in ("DB_USER", "DB_PASSWORD"):
        ref = variables[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "mlp-pg-mlflow"
    platform.get("Secret", "mlp-pg-mlflow")


def test_s3_endpoint_and_login_are_minio(dev, chart_values):
    variables = env(server(dev))
    minio = chart_values["mlplatform"]["minio"]["fullnameOverride"]
    assert variables["MLFLOW_S3_ENDPOINT_URL"]["value"] == f"http://{minio}.mlp.svc:9000"
    ref = variables["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]
    s3 = dev.get("Secret", ref["name"])
    users = dev.get("Secret", "mlp-minio-users")
    assert base64.b64decode(s3["data"]["AWS_ACCESS_KEY_ID"]).decode() == "mlflow"
    assert s3["data"]["AWS_SECRET_ACCESS_KEY"] == users["data"]["mlflow"]


def test_allowed_hosts_cover_in_cluster_names(dev, render):
    hosts = env(server(dev))["MLFLOW_SERVER_ALLOWED_HOSTS"]["value"].split(",")
    for host in (
        "mlp-mlflow",
        "mlp-mlflow.mlp",
        "mlp-mlflow.mlp.svc",
        "mlp-mlflow.mlp.svc.cluster.local",
        "mlp-mlflow.mlp.svc:5000",
        "localhost",
    ):
        assert host in hosts
    with_ingress = render("mlflow.ingress.enabled=true", "mlflow.ingress.host=mlflow.test")
    assert "mlflow.test" in env(server(with_ingress))["MLFLOW_SERVER_ALLOWED_HOSTS"]["value"].split(",")
    assert with_ingress.get("Ingress", "mlp-mlflow")["spec"]["rules"][0]["host"] == "mlflow.test"


def test_service_monitor_scrapes_the_mlflow_service(platform):
    service = platform.get("Service", "mlp-mlflow")
    monitor = platform.get("ServiceMonitor", "mlp-mlflow")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_prod_runs_two_servers_with_a_disruption_budget(prod, dev):
    assert prod.get("Deployment", "mlp-mlflow")["spec"]["replicas"] >= 2
    pdb = prod.get("PodDisruptionBudget", "mlp-mlflow")
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "mlflow"
    assert "affinity" in prod.get("Deployment", "mlp-mlflow")["spec"]["template"]["spec"]
    assert dev.get("Deployment", "mlp-mlflow")["spec"]["replicas"] == 1
    assert not dev.of_kind("PodDisruptionBudget")
