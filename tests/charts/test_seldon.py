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


AUTOSCALED = (
    MODEL,
    "seldon.deployments[0].autoscaling.minReplicas=2",
    "seldon.deployments[0].autoscaling.maxReplicas=5",
    "seldon.deployments[0].autoscaling.targetCPUUtilizationPercentage=60",
)


def test_autoscaling_gives_the_model_seldons_hpa_spec_on_cpu(render):
    """Seldon 1.17's hpaSpec (autoscaling/v2 `metricsv2`), as the promoter renders it; the predictor leaves its
    replicas to the autoscaler, and the model requests the CPU the target is a share of."""
    (deployment,) = render(*AUTOSCALED).of_kind("SeldonDeployment")
    (predictor,) = deployment["spec"]["predictors"]
    assert_cpu_autoscaled(predictor, 2, 5, 60)


def assert_cpu_autoscaled(predictor: dict, least: int, most: int, target: int) -> None:
    """A predictor Seldon scales on CPU: its hpaSpec, no fixed replicas, and a CPU request on the model's container
    (named as its graph node, which is how Seldon merges it into the prepackaged server's)."""
    assert "replicas" not in predictor
    (component,) = predictor["componentSpecs"]
    assert component["hpaSpec"] == {
        "minReplicas": least,
        "maxReplicas": most,
        "metricsv2": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
            }
        ],
    }
    (container,) = component["spec"]["containers"]
    assert container["name"] == predictor["graph"]["name"] and container["resources"]["requests"]["cpu"]


def test_without_an_autoscaling_range_the_replicas_are_fixed(render):
    (plain,) = render(MODEL).of_kind("SeldonDeployment")
    assert plain["spec"]["predictors"][0]["replicas"] == 1
    fixed = "seldon.deployments[0].autoscaling.minReplicas=2", "seldon.deployments[0].autoscaling.maxReplicas=2"
    (pinned,) = render(MODEL, *fixed).of_kind("SeldonDeployment")
    for deployment, replicas in ((plain, 1), (pinned, 2)):
        (predictor,) = deployment["spec"]["predictors"]
        assert predictor["replicas"] == replicas
        assert all("hpaSpec" not in c for c in predictor["componentSpecs"])


def test_inverted_or_conflicting_autoscaling_fails_the_render(render_failure):
    error = render_failure(
        MODEL, "seldon.deployments[0].autoscaling.minReplicas=3", "seldon.deployments[0].autoscaling.maxReplicas=2"
    )
    assert "seldon.deployments fraud: autoscaling.maxReplicas 2 is below minReplicas 3" in error
    error = render_failure(MODEL, "seldon.deployments[0].replicas=2", "seldon.deployments[0].autoscaling.maxReplicas=3")
    assert "seldon.deployments fraud: replicas 2 and an autoscaling range both set: drop replicas" in error


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
