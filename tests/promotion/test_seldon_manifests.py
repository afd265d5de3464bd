"""The SeldonDeployments the promoter writes (single and canary) against Seldon Core 1.17.1's CRD.

The CRD's schema accepts unknown fields (the API server prunes them silently), so it is made strict
here: a misspelt field fails the test instead of vanishing in the cluster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from mlflow import MlflowClient
from mlplatform.config import Settings
from mlplatform.runtime.services.minio import Minio as MinioService

from tests.promotion.helpers import ROOT, Worker, promote, promote_best, unique

CRD = ROOT.parent / "shared" / "upstream" / "seldon-core-operator-1.17.1" / "crds" / "seldondeployments.yaml"
POLICY = json.dumps({"metric": "accuracy", "canary_traffic": 25})


def strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema.setdefault("additionalProperties", False)
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    if not CRD.exists():
        pytest.skip(f"Seldon Core CRD reference not present at {CRD} (only in the shared upstream checkout)")
    crd = yaml.safe_load(CRD.read_text())
    (v1,) = [version for version in crd["spec"]["versions"] if version["name"] == "v1"]
    return jsonschema.Draft7Validator(strict(v1["schema"]["openAPIV3Schema"]))


def check(manifest: dict[str, Any], validator: jsonschema.protocols.Validator) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]
    assert not errors, errors
    assert manifest["apiVersion"] == "machinelearning.seldon.io/v1" and manifest["kind"] == "SeldonDeployment"
    assert manifest["spec"]["protocol"] == "v2"
    for predictor in manifest["spec"]["predictors"]:
        graph = predictor["graph"]
        assert graph["implementation"] == "MLFLOW_SERVER" and graph["type"] == "MODEL"
        assert graph["envSecretRefName"] == "mlp-seldon-rclone"
        assert graph["modelUri"].startswith("s3://mlflow/")
    assert sum(p["traffic"] for p in manifest["spec"]["predictors"]) == 100


def test_single_and_canary_manifests_validate_and_point_at_minio(
    tracking_uri: str,
    worker: Worker,
    client: MlflowClient,
    platform: Settings,
    validator: jsonschema.protocols.Validator,
    tmp_path: Path,
) -> None:
    experiment, model = unique("seldon"), unique("seldon-model")
    worker.train(experiment, {"seed": 1, "metrics": {"accuracy": 0.8}})
    first = promote_best(
        tracking_uri,
        experiment,
        model,
        POLICY,
        "seldon",
        "--output-dir",
        str(tmp_path),
    )
    assert first.code == 0, first.stderr
    (single_file,) = tmp_path.iterdir()
    single = yaml.safe_load(single_file.read_text())
    check(single, validator)
    assert [p["name"] for p in single["spec"]["predictors"]] == ["v1"]

    # The modelUri is where MinIO really holds the model's files.
    minio = MinioService(platform).client()
    prefix = single["spec"]["predictors"][0]["graph"]["modelUri"].removeprefix("s3://mlflow/")
    names = {
        o.object_name.removeprefix(prefix).lstrip("/") for o in minio.list_objects("mlflow", prefix, recursive=True)
    }
    assert "MLmodel" in names and any(name.startswith("model.") for name in names), names

    worker.train(experiment, {"seed": 2, "metrics": {"accuracy": 0.9}})
    preview = promote_best(
        tracking_uri,
        experiment,
        model,
        POLICY,
        "seldon",
        "--dry-run",
    )
    assert preview.code == 0, preview.stderr
    assert preview.decision is not None and preview.decision["decision"] == "canary"
    (dry,) = preview.decision["manifests"]
    check(dry, validator)
    assert client.get_registered_model(model).aliases == {"champion": "1"}  # a dry run registers nothing

    canary = promote_best(
        tracking_uri,
        experiment,
        model,
        POLICY,
        "seldon",
        "--output-dir",
        str(tmp_path),
    )
    assert canary.code == 0, canary.stderr
    manifest = yaml.safe_load(single_file.read_text())
    check(manifest, validator)
    split = {p["name"]: p["traffic"] for p in manifest["spec"]["predictors"]}
    assert split == {"v1": 75, "v2": 25}
    uris = [p["graph"]["modelUri"] for p in manifest["spec"]["predictors"]]
    assert uris[0] == single["spec"]["predictors"][0]["graph"]["modelUri"] and uris[1] != uris[0]

    final = promote(
        tracking_uri, "finalize", "--model-name", model, "--target", "seldon", "--output-dir", str(tmp_path)
    )
    assert final.code == 0, final.stderr
    finalized = yaml.safe_load(single_file.read_text())
    check(finalized, validator)
    assert [(p["name"], p["traffic"]) for p in finalized["spec"]["predictors"]] == [("v2", 100)]


def test_a_misspelt_field_fails_validation(validator: jsonschema.protocols.Validator) -> None:
    """The strict schema is what makes the checks above able to fail."""
    manifest = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "x"},
        "spec": {"predictors": [{"name": "v1", "graph": {"name": "m", "modelURI": "s3://x"}}]},
    }
    assert list(validator.iter_errors(manifest))
