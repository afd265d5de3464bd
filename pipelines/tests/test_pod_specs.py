"""The pods the factory builds in cluster mode, asserted without a cluster; and the same DAG in local mode."""

from __future__ import annotations

import json
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.standard.operators.python import PythonOperator
from kubernetes.client import ApiClient
from mlpipelines.factory import build_dag
from mlpipelines.recipe import load_recipe
from mlpipelines.settings import REPO_ROOT, PipelineSettings

from tests.conftest import RECIPES

RECIPE = load_recipe(RECIPES / "fraud-detection.yaml")


def pod(settings: PipelineSettings, task_id: str) -> dict[str, Any]:
    task = build_dag(RECIPE, settings).get_task(task_id)
    assert isinstance(task, KubernetesPodOperator)
    return dict(ApiClient().sanitize_for_serialization(task.build_pod_request_obj(dry_run=True)))


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def test_train_pod(cluster: PipelineSettings) -> None:
    spec = pod(cluster, "train")
    assert spec["metadata"]["namespace"] == "ml-team"
    assert spec["metadata"]["labels"]["mlplatform/recipe"] == "fraud-detection"
    assert spec["spec"]["serviceAccountName"] == "mlp-pipelines"
    assert spec["spec"]["restartPolicy"] == "Never"
    (container,) = spec["spec"]["containers"]
    assert container["image"] == RECIPE.image
    command = container["command"] + container["args"]
    assert command[:3] == ["mlflow", "run", "/workspace/examples/fraud-detection"]
    assert command[command.index("-e") + 1] == "main"
    assert command[command.index("--env-manager") + 1] == "local"
    assert command[command.index("--experiment-name") + 1] == "fraud-detection"
    parameters = [command[i + 1] for i, arg in enumerate(command) if arg == "-P"]
    assert parameters == [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in RECIPE.parameters.items()]
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert container["envFrom"] == [{"secretRef": {"name": "mlp-airflow-task-env"}}]
    assert spec["spec"]["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    env = env_of(container)
    assert env["WAREHOUSE_PASSWORD"] == {"secretKeyRef": {"name": "mlp-pg-warehouse", "key": "password"}}
    assert "password" not in env["WAREHOUSE_DSN"]
    assert env["MLFLOW_EXPERIMENT_NAME"] == "fraud-detection"
    # Tracking URI, S3 endpoint and keys come only from the Secret, never as literal values.
    assert not {"MLFLOW_TRACKING_URI", "MLFLOW_S3_ENDPOINT_URL", "AWS_SECRET_ACCESS_KEY"} & set(env)


def test_promote_pod(cluster: PipelineSettings) -> None:
    spec = pod(cluster, "promote")
    (container,) = spec["spec"]["containers"]
    assert container["image"] == cluster.promoter_image
    # Its own account: the training pods' account holds no right to SeldonDeployments.
    assert spec["spec"]["serviceAccountName"] == "mlp-promoter" != cluster.service_account
    command = container["command"] + container["args"]
    assert command[0] == "mlp-promote"
    assert command[command.index("--experiment") + 1] == "fraud-detection"
    assert command[command.index("--model-name") + 1] == "fraud-detector"
    assert command[command.index("--target") + 1] == "seldon"
    assert command[command.index("--namespace") + 1] == cluster.models_namespace == "mlp-models"
    assert command[command.index("--secret-name") + 1] == cluster.model_storage_secret
    assert command[command.index("--artifact-root") + 1] == "s3://mlflow"
    policy = json.loads(command[command.index("--policy") + 1])
    assert policy == {
        "metric": "roc_auc",
        "direction": "max",
        "thresholds": {"roc_auc": {"min": 0.9}, "recall": {"min": 0.6}},
        "min_margin": 0.002,
        "canary_traffic": 20,
        "serving": {"max_batch_size": 32, "max_batch_time": 0.01},
    }
    assert container["envFrom"] == [{"secretRef": {"name": "mlp-airflow-task-env"}}]
    assert container["resources"]["limits"]


def test_git_project_is_pinned_to_its_ref(cluster: PipelineSettings) -> None:
    raw = RECIPE.model_dump()
    raw["project"] = {"git": {"url": "https://example.com/ds/fraud.git", "ref": "v1.4.0", "subdirectory": "model"}}
    recipe = type(RECIPE).model_validate(raw)
    task = build_dag(recipe, cluster).get_task("train")
    assert isinstance(task, KubernetesPodOperator)
    assert task.arguments[:4] == ["run", "https://example.com/ds/fraud.git#model", "--version", "v1.4.0"]


def test_local_mode_runs_the_same_steps_as_subprocesses(local: PipelineSettings) -> None:
    dag = build_dag(RECIPE, local)
    train, promote = dag.get_task("train"), dag.get_task("promote")
    assert isinstance(train, PythonOperator) and isinstance(promote, PythonOperator)
    argv = train.op_kwargs["argv"]
    project = REPO_ROOT / "examples" / "fraud-detection"
    assert argv[:3] == [str(project / ".venv" / "bin" / "mlflow"), "run", str(project)]
    assert train.op_kwargs["venv"] == str(project / ".venv")
    assert train.op_kwargs["env"]["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5999"
    promote_argv = promote.op_kwargs["argv"]
    assert promote_argv[0] == str(REPO_ROOT / "pipelines" / "promoter" / ".venv" / "bin" / "mlp-promote")
    assert promote_argv[-2:] == ["--target", "local"]
