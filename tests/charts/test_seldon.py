"""Seldon: the models namespace, its rclone S3 Secret and SeldonDeployments (templates/seldon/)."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

MODEL = "seldon.deployments[0].name=fraud,seldon.deployments[0].modelUri=s3://mlflow/1/models/m-1/artifacts"


def decoded(secret: dict, key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def test_models_namespace_and_rclone_secret(dev, chart_values):
    seldon = chart_values["mlplatform"]["seldon"]
    dev.get("Namespace", seldon["namespace"])
    secret = dev.get("Secret", seldon["rcloneSecretName"])
    assert secret["metadata"]["namespace"] == seldon["namespace"]
    assert decoded(secret, "RCLONE_CONFIG_S3_TYPE") == "s3"
    assert decoded(secret, "RCLONE_CONFIG_S3_PROVIDER") == "Minio"
    assert decoded(secret, "RCLONE_CONFIG_S3_ENDPOINT") == "http://mlp-minio.mlp.svc:9000"
    user = decoded(secret, "RCLONE_CONFIG_S3_ACCESS_KEY_ID")
    assert secret["data"]["RCLONE_CONFIG_S3_SECRET_ACCESS_KEY"] == dev.get("Secret", "mlp-minio-users")["data"][user]


def test_seldon_deployment_serves_mlflow_models_with_mlserver(render):
    rendered = render(MODEL)
    (deployment,) = rendered.of_kind("SeldonDeployment")
    assert deployment["metadata"]["namespace"] == "mlp-models"
    assert deployment["spec"]["protocol"] == "v2"
    graph = deployment["spec"]["predictors"][0]["graph"]
    assert graph["implementation"] == "MLFLOW_SERVER" and graph["modelUri"].startswith("s3://mlflow/")
    assert graph["envSecretRefName"] == "mlp-seldon-rclone"


def test_operator_is_apache_licensed_without_usage_metrics(chart_values):
    chart = yaml.safe_load((Path(__file__).parents[2] / "charts/mlplatform-prereqs/Chart.yaml").read_text())
    deps = {d["name"]: d for d in chart["dependencies"]}
    assert deps["seldon-core-operator"]["version"] == "1.17.1"
    assert chart_values["mlplatform-prereqs"]["seldon-core-operator"]["usageMetrics"]["enabled"] is False


def test_mlflow_v2_server_is_an_mlserver_able_to_load_mlflow_3(chart_values):
    v2 = chart_values["mlplatform-prereqs"]["seldon-core-operator"]["predictor_servers"]["MLFLOW_SERVER"]["protocols"][
        "v2"
    ]
    assert v2["image"].endswith("seldonio/mlserver")
    version, _, flavour = v2["defaultImageVersion"].partition("-")
    assert flavour == "mlflow"
    assert tuple(int(x) for x in version.split(".")[:2]) >= (1, 7), "MLServer before 1.7 bundles MLflow 2"
