"""MinIO: subchart values and the credentials the chart generates for it (templates/minio/)."""

from __future__ import annotations

import base64

import pytest


def decoded(secret: dict, key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def test_minio_is_standalone_with_quay_images_and_buckets(chart_values):
    minio = chart_values["mlplatform"]["minio"]
    assert minio["mode"] == "standalone" and minio["replicas"] == 1
    assert minio["image"]["repository"].startswith("quay.io/minio/")
    assert minio["mcImage"]["repository"].startswith("quay.io/minio/")
    assert {"mlflow", "raw-data"} <= {b["name"] for b in minio["buckets"]}
    assert minio["persistence"]["enabled"] is True


MEBI = {"Mi": 1, "Gi": 1024}


@pytest.mark.parametrize(
    ("profile", "most"), [("mlplatform", 512), ("values/dev.yaml", 512), ("values/prod.yaml", 8192)]
)
def test_minio_memory_request_replaces_the_16gi_upstream_default(chart_values, profile, most):
    memory = chart_values[profile]["minio"]["resources"]["requests"]["memory"]
    assert int(memory[:-2]) * MEBI[memory[-2:]] <= most


def test_root_login_is_generated_into_the_existing_secret(dev, chart_values):
    name = chart_values["mlplatform"]["minio"]["existingSecret"]
    secret = dev.get("Secret", name)
    assert set(secret["data"]) == {"rootUser", "rootPassword"}
    assert len(decoded(secret, "rootPassword")) >= 32
    assert chart_values["mlplatform"]["minio"]["rootPassword"] == ""


def test_every_minio_user_gets_a_generated_password(dev, chart_values):
    users = chart_values["mlplatform"]["minio"]["users"]
    secret = dev.get("Secret", chart_values["mlplatform"]["objectStorage"]["usersSecret"])
    for user in users:
        assert "secretKey" not in user, "a MinIO user password would sit in values"
        assert user["existingSecret"] == secret["metadata"]["name"]
        assert len(decoded(secret, user["existingSecretKey"])) >= 32
    assert {u["policy"] for u in users if u["accessKey"] == "seldon"} == {"readonly"}
