"""Manifests and MLServer settings rendered without a server (the CRD check runs in tests/promotion)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlp_policy import Autoscaling, Serving
from mlp_promoter import local, seldon
from mlp_promoter.targets import Rollout

TARGET = seldon.SeldonOptions(namespace="models", secret_name="s3-secret", artifact_root="s3://mlflow")


def test_canary_has_two_tempo_predictors_with_the_traffic_split() -> None:
    manifest = seldon.render(
        "Fraud_Detector",
        [
            Rollout("3", "mlflow-artifacts:/1/models/m-a/artifacts", 90),
            Rollout("4", "mlflow-artifacts:/1/models/m-b/artifacts", 10),
        ],
        TARGET,
    )
    assert manifest["metadata"]["name"] == "fraud-detector" and manifest["metadata"]["namespace"] == "models"
    assert manifest["spec"]["protocol"] == "v2"
    predictors = manifest["spec"]["predictors"]
    assert [(p["name"], p["traffic"]) for p in predictors] == [("v3", 90), ("v4", 10)]
    assert [p["graph"]["modelUri"] for p in predictors] == [
        "s3://mlflow/1/models/m-a/artifacts",
        "s3://mlflow/1/models/m-b/artifacts",
    ]
    assert [p["labels"][seldon.PREDICTOR_LABEL] for p in predictors] == ["champion", "canary"]
    assert {p["labels"]["mlplatform.io/registered-model"] for p in predictors} == {"fraud-detector"}
    for predictor in predictors:
        assert predictor["graph"]["implementation"] == "MLFLOW_SERVER"
        assert predictor["graph"]["envSecretRefName"] == "s3-secret"


def test_artifact_locations_map_to_the_bucket() -> None:
    assert seldon.s3_uri("s3://other/x", "s3://mlflow") == "s3://other/x"
    assert (
        seldon.s3_uri("mlflow-artifacts://host:5000/2/models/m/artifacts", "s3://b/") == "s3://b/2/models/m/artifacts"
    )
    with pytest.raises(ValueError, match="cannot map"):
        seldon.s3_uri("file:///tmp/model", "s3://mlflow")


def test_each_predictor_has_a_service_named_after_its_version() -> None:
    """`<deployment>-v<version>`: the chart's scoring processor calls each version there (model_version_url)."""
    manifest = seldon.render(
        "fraud-detector",
        [Rollout("3", "s3://mlflow/1/a", 80), Rollout("4", "s3://mlflow/1/b", 20)],
        TARGET,
    )
    names = [p["annotations"]["seldon.io/svc-name"] for p in manifest["spec"]["predictors"]]
    assert names == ["fraud-detector-v3", "fraud-detector-v4"]


CANARY = [Rollout("3", "s3://mlflow/1/a", 80), Rollout("4", "s3://mlflow/1/b", 20)]


def test_an_autoscaling_policy_gives_every_predictor_an_hpa_spec_on_cpu() -> None:
    """Seldon 1.17's hpaSpec in autoscaling/v2 form (metricsv2) on the model's component, with the CPU request its
    Utilization target is a share of, and no `replicas` (Seldon leaves them to the autoscaler)."""
    autoscaling = Autoscaling(min_replicas=2, max_replicas=5, target_cpu_utilization=60)
    options = seldon.SeldonOptions(namespace="models", cpu_request="250m")
    manifest = seldon.render("fraud-detector", CANARY, options, autoscaling)
    predictors = manifest["spec"]["predictors"]
    assert len(predictors) == 2
    for predictor in predictors:
        assert "replicas" not in predictor
        (component,) = predictor["componentSpecs"]
        assert component["hpaSpec"] == {
            "minReplicas": 2,
            "maxReplicas": 5,
            "metricsv2": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
                }
            ],
        }
        # Seldon merges the container into the prepackaged server's by the graph node's name.
        assert component["spec"]["containers"] == [
            {"name": predictor["graph"]["name"], "resources": {"requests": {"cpu": "250m"}}}
        ]
        assert predictor["graph"]["implementation"] == "MLFLOW_SERVER"


@pytest.mark.parametrize(
    ("autoscaling", "replicas", "expected"),
    [(Autoscaling(), None, 1), (Autoscaling(min_replicas=3, max_replicas=3), None, 3), (Autoscaling(), 2, 2)],
    ids=["default", "equal-bounds", "replicas-option"],
)
def test_without_an_autoscaling_range_predictors_have_fixed_replicas(
    autoscaling: Autoscaling, replicas: int | None, expected: int
) -> None:
    options = seldon.SeldonOptions(namespace="models", replicas=replicas)
    manifest = seldon.render("fraud-detector", CANARY, options, autoscaling)
    for predictor in manifest["spec"]["predictors"]:
        assert predictor["replicas"] == expected
        assert "componentSpecs" not in predictor


def test_local_model_settings_carry_batching_and_version(tmp_path: Path) -> None:
    target = local.LocalOptions(tmp_path, "http://127.0.0.1:8090")
    rollouts = [Rollout("7", "mlflow-artifacts:/1/models/m-a/artifacts", 100)]
    planned = local.plan("fraud detector", rollouts, Serving(max_batch_size=16, max_batch_time=0.005), target)
    settings = planned["model_settings"][str(tmp_path / "fraud-detector" / "7" / "model-settings.json")]
    assert settings["name"] == "fraud-detector" and settings["implementation"] == "mlp_mlserver.CheckedMLflowRuntime"
    assert (settings["max_batch_size"], settings["max_batch_time"]) == (16, 0.005)
    assert settings["parameters"] == {"uri": "./model", "version": "7"}
    assert planned["infer_url"] == "http://127.0.0.1:8090/v2/models/fraud-detector/infer"
