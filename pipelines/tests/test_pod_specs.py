"""The pods the factory builds in cluster mode, asserted without a cluster; and the same DAG in local mode."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.utils.types import DagRunType
from kubernetes.client import ApiClient
from mlpipelines.factory import build_batch_dag, build_dag
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
        "canary": {
            "duration": 120.0,
            "min_requests": 10,
            "gates": {
                "max_error_ratio": 0.02,
                "max_latency_p99_ratio": 3.0,
                "max_score_psi": 0.25,
                "max_quality_drop": 0.1,
                "min_labelled": 30,
            },
        },
        "autoscaling": {"min_replicas": 1, "max_replicas": 3, "target_cpu_utilization": 70},
    }
    assert container["envFrom"] == [{"secretRef": {"name": "mlp-airflow-task-env"}}]
    assert container["resources"]["limits"]


def test_judge_pod(cluster: PipelineSettings) -> None:
    """The judge runs as the promoter (its image and account), waits out the canary and reads the cluster's
    Prometheus; its timeout leaves room for the window and one extension."""
    dag = build_dag(RECIPE, cluster)
    task = dag.get_task("judge")
    assert task.upstream_task_ids == {"promote"}
    assert task.execution_timeout.total_seconds() == 2 * 120 + 600
    spec = pod(cluster, "judge")
    (container,) = spec["spec"]["containers"]
    assert container["image"] == cluster.promoter_image
    assert spec["spec"]["serviceAccountName"] == "mlp-promoter"
    command = container["command"] + container["args"]
    assert command[:3] == ["mlp-promote", "judge", "--model-name"] and "--wait" in command
    assert command[command.index("--prometheus-url") + 1] == cluster.prometheus_url
    assert command[command.index("--target") + 1] == "seldon"
    assert command[command.index("--namespace") + 1] == "mlp-models"


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
    assert promote_argv[promote_argv.index("--target") + 1] == "local"
    judge = dag.get_task("judge")
    assert isinstance(judge, PythonOperator)
    assert judge.op_kwargs["argv"][:2] == [promote_argv[0], "judge"] and judge.op_kwargs["argv"][-2:] == [
        "--target",
        "local",
    ]


@pytest.mark.parametrize(
    ("run_type", "conf", "compare"),
    [
        (DagRunType.ASSET_TRIGGERED, {}, "live"),  # new data, or the signal or drift watcher
        (DagRunType.MANUAL, {}, "offline"),
        (DagRunType.SCHEDULED, None, "offline"),
        (DagRunType.MANUAL, {"compare": "live"}, "live"),  # a manual run may ask for the canary
    ],
)
def test_runs_started_by_an_asset_challenge_the_champion_live(
    local: PipelineSettings, cluster: PipelineSettings, run_type: DagRunType, conf: Any, compare: str
) -> None:
    context: Any = {"dag_run": SimpleNamespace(run_type=run_type, conf=conf)}
    promote = build_dag(RECIPE, local).get_task("promote")
    assert isinstance(promote, PythonOperator)
    argv = promote.render_template(promote.op_kwargs["argv"], context)
    assert argv[argv.index("--compare") + 1] == compare
    in_cluster = build_dag(RECIPE, cluster).get_task("promote")
    assert isinstance(in_cluster, KubernetesPodOperator)
    arguments = in_cluster.render_template(in_cluster.arguments, context)
    assert arguments[arguments.index("--compare") + 1] == compare


def test_batch_pod_scores_with_the_model_runtime_image(cluster: PipelineSettings) -> None:
    """The recipe's `batch:` section is a DAG of its own: one pod of the model runtime's image, on its schedule."""
    dag = build_batch_dag(RECIPE, cluster)
    assert dag is not None and dag.dag_id == "fraud-detection-batch"
    assert dag.timetable.expression == "0 4 * * *"
    task = dag.get_task("predict")
    assert isinstance(task, KubernetesPodOperator)
    spec = dict(ApiClient().sanitize_for_serialization(task.build_pod_request_obj(dry_run=True)))
    (container,) = spec["spec"]["containers"]
    assert container["image"] == cluster.model_runtime_image == "ghcr.io/mlplatform/model-runtime:0.1.0"
    assert spec["spec"]["serviceAccountName"] == cluster.service_account
    assert spec["metadata"]["labels"]["mlplatform/step"] == "batch"
    command = container["command"] + container["args"]
    assert command[:2] == ["mlp-batch-predict", "fraud-detector"]
    assert command[command.index("--input") + 1] == "s3://raw-data/fraud-detection/batch/*.parquet"
    output = command[command.index("--output") + 1]
    assert output == "s3://raw-data/fraud-detection/predictions/{{ dag_run.run_after | ds }}"
    assert command[command.index("--alias") + 1] == "champion"
    assert command[command.index("--chunk-rows") + 1] == "50000"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    assert container["envFrom"] == [{"secretRef": {"name": "mlp-airflow-task-env"}}]
    assert not {"MLFLOW_TRACKING_URI", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env_of(container))
    # Airflow renders the output folder per run: a retry of the same run resumes into it.
    assert "arguments" in task.template_fields


def test_batch_runs_locally_in_the_model_runtime_environment(local: PipelineSettings) -> None:
    dag = build_batch_dag(RECIPE, local)
    assert dag is not None
    task = dag.get_task("predict")
    assert isinstance(task, PythonOperator) and "op_kwargs" in task.template_fields
    argv = task.op_kwargs["argv"]
    assert argv[0] == str(REPO_ROOT / "platform" / "runtimes" / "mlserver" / ".venv" / "bin" / "mlp-batch-predict")
    assert task.op_kwargs["env"]["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5999"


def test_a_recipe_without_batch_has_no_batch_dag(cluster: PipelineSettings) -> None:
    raw = RECIPE.model_dump()
    raw["batch"] = None
    assert build_batch_dag(type(RECIPE).model_validate(raw), cluster) is None


def test_the_dags_that_retrain_a_model_carry_its_tag(local: PipelineSettings) -> None:
    """The model management API pauses retraining by this tag: training and watchers, not batch prediction."""
    from mlpipelines.factory import recipe_dags

    dags = recipe_dags(RECIPES / "fraud-detection.py", local)
    tagged = sorted(dag_id for dag_id, dag in dags.items() if "mlp-model:fraud-detector" in dag.tags)
    assert tagged == ["fraud-detection", "fraud-detection-drift", "fraud-detection-signal"]
