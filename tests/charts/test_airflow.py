"""Airflow: subchart wiring and the chart's own Airflow objects (templates/airflow/)."""

from __future__ import annotations

import base64
import configparser
import json
import shutil
import tarfile
from urllib.parse import urlsplit

import yaml

from tests.charts.conftest import chart_render, notes_of, probe_notes, profile_files, require_real_subcharts


def decoded(secret: dict, key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def test_kubernetes_executor_without_bundled_postgres(chart_values):
    airflow = chart_values["mlplatform"]["airflow"]
    assert airflow["executor"] == "KubernetesExecutor"
    assert airflow["postgresql"]["enabled"] is False
    # DAGs come from the recipes ConfigMap by default: no repository to name (tests/charts/test_pipelines.py).
    assert airflow["dags"]["gitSync"]["enabled"] is False


def test_recipe_dags_and_their_watchers_run_unpaused(dev):
    """Airflow pauses a new DAG by default: a paused drift watcher would never retrain anything."""
    config = next(d for d in dev.of_kind("ConfigMap") if "airflow.cfg" in d.get("data", {}))
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.read_string(config["data"]["airflow.cfg"])
    assert parsed.get("core", "dags_are_paused_at_creation") == "False"


def test_remote_logs_go_to_minio_through_the_task_secret(dev, chart_values):
    values = chart_values["mlplatform"]
    logging = values["airflow"]["config"]["logging"]
    assert logging["remote_logging"] == "True" and logging["remote_base_log_folder"].startswith("s3://")
    bucket = urlsplit(logging["remote_base_log_folder"]).netloc
    assert bucket in {b["name"] for b in values["minio"]["buckets"]}
    secret = dev.get("Secret", values["airflowTasks"]["envSecretName"])
    conn = json.loads(decoded(secret, f"AIRFLOW_CONN_{logging['remote_log_conn_id'].upper()}"))
    assert conn["conn_type"] == "aws"
    assert conn["extra"]["endpoint_url"] == "http://mlp-minio.mlp.svc:9000"
    assert conn["password"] == decoded(dev.get("Secret", "mlp-minio-users"), conn["login"])


def test_task_pods_get_mlflow_and_minio_settings_from_a_secret(dev, chart_values):
    values = chart_values["mlplatform"]
    env_from = yaml.safe_load(values["airflow"]["extraEnvFrom"])
    assert {"secretRef": {"name": values["airflowTasks"]["envSecretName"]}} in env_from
    secret = dev.get("Secret", values["airflowTasks"]["envSecretName"])
    assert decoded(secret, "MLFLOW_TRACKING_URI") == "http://mlp-mlflow.mlp.svc:5000"
    dev.get("Service", "mlp-mlflow")
    assert decoded(secret, "AWS_ACCESS_KEY_ID") == "airflow"
    assert decoded(secret, "MLFLOW_S3_ENDPOINT_URL") == decoded(secret, "AWS_ENDPOINT_URL")


def test_metadata_connection_uses_the_airflow_database_role(dev, chart_values):
    values = chart_values["mlplatform"]["airflow"]
    url = urlsplit(decoded(dev.get("Secret", values["data"]["metadataSecretName"]), "connection"))
    (cluster,) = dev.of_kind("Cluster")
    assert url.scheme == "postgresql" and url.path == "/airflow"
    assert url.hostname == f"{cluster['metadata']['name']}-rw.mlp.svc" and url.port == 5432
    role = dev.get("Secret", "mlp-pg-airflow")
    assert url.username == decoded(role, "username") and url.password == decoded(role, "password")


def test_airflow_keys_are_generated_secrets(dev, chart_values):
    values = chart_values["mlplatform"]["airflow"]
    fernet = decoded(dev.get("Secret", values["fernetKeySecretName"]), "fernet-key")
    assert len(base64.urlsafe_b64decode(fernet)) == 32, "a Fernet key is 32 url-safe base64 bytes"
    assert len(decoded(dev.get("Secret", values["apiSecretKeySecretName"]), "api-secret-key")) >= 32
    assert len(decoded(dev.get("Secret", values["jwtSecretName"]), "jwt-secret")) >= 32


def test_dag_tasks_may_start_pods_only_in_their_namespace(dev, chart_values):
    require_real_subcharts()
    account = chart_values["mlplatform"]["airflow"]["workers"]["kubernetes"]["serviceAccount"]
    dev.get("ServiceAccount", account["name"])
    worker_pods = dev.airflow_pod_template()["spec"]
    assert worker_pods["serviceAccountName"] == account["name"], "worker pods run as the bound account"
    role = dev.get("Role", "mlp-airflow-task-pods")
    assert role["metadata"]["namespace"] == "mlp"
    pods = next(r for r in role["rules"] if r["resources"] == ["pods"])
    assert "create" in pods["verbs"] and "*" not in pods["verbs"]
    binding = dev.get("RoleBinding", "mlp-airflow-task-pods")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "mlp-airflow-task-pods",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["name"], "namespace": "mlp"}]
    assert not dev.of_kind("ClusterRole") and not dev.of_kind("ClusterRoleBinding")


def test_installs_with_wait_need_no_hooks(dev):
    """The migration Job is an ordinary Job (see test_prereqs.test_no_workload_waits_for_a_hook), there is
    no default-user Job, and no broker Secret is created as a pre-install hook."""
    require_real_subcharts()
    names = {(d["kind"], d["metadata"]["name"]) for d in dev.docs}
    assert ("Job", "mlp-run-airflow-migrations") in names
    assert ("Job", "mlp-create-user") not in names
    assert ("Secret", "mlp-broker-url") not in names


def test_airflow_notes_carry_no_deprecation_warning(renderer, tmp_path):
    """Airflow's own NOTES.txt warns about deprecated values (`webserver.defaultUser` is gone in chart 2.0):
    rendered with every profile, it warns about none."""
    require_real_subcharts()
    chart = tmp_path / "mlplatform"
    shutil.copytree(renderer.chart_dir("mlplatform")[0], chart)
    airflow = chart / "charts"
    with tarfile.open(airflow / "airflow-1.22.0.tgz") as archive:
        archive.extractall(airflow, filter="data")
    (airflow / "airflow-1.22.0.tgz").unlink()
    probe = probe_notes(airflow / "airflow", chart)
    for profile in ("dev", "prod", "airgapped"):
        files = [a for f in profile_files("mlplatform", profile) for a in ("-f", str(f))]
        notes = notes_of(chart_render.helm_template("mlplatform", [*files, "--show-only", probe], chart))
        assert "Thank you for installing Apache Airflow" in notes
        assert "DEPRECATION WARNING" not in notes, (profile, notes[notes.find("DEPRECATION") :][:300])
