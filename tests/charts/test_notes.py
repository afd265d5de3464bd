"""NOTES.txt tells every user where to go (rendered through `tpl`, as `helm template` skips NOTES)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.charts.conftest import chart_render

PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes-probe
data:
  notes: {{ tpl (.Files.Get "NOTES.probe") . | quote }}
"""


@pytest.fixture(scope="module")
def notes(renderer, tmp_path_factory) -> str:
    source, _ = renderer.chart_dir("mlplatform")
    chart = tmp_path_factory.mktemp("notes") / "mlplatform"
    shutil.copytree(source, chart)
    shutil.move(chart / "templates" / "NOTES.txt", chart / "NOTES.probe")
    (chart / "templates" / "notes-probe.yaml").write_text(PROBE)
    result = chart_render.helm_template("mlplatform", ["--show-only", "templates/notes-probe.yaml"], chart)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["data"]["notes"]


@pytest.mark.parametrize(
    "where",
    [
        "http://mlp-mlflow.mlp.svc:5000",
        "svc/mlp-api-server",
        "http://mlp-connect-rest.mlp.svc:8083/connectors",
        "mlp-kafka-bootstrap.mlp.svc:9092",
        "http://mlp-minio.mlp.svc:9000",
        "namespace mlp-models",
        "mlp-pg-rw.mlp.svc:5432",
        "mlp-platform-alerts",
    ],
)
def test_notes_point_each_user_somewhere(notes, where):
    assert where in notes
