"""NOTES.txt tells every user where to go (rendered through `tpl`, as `helm template` skips NOTES)."""

from __future__ import annotations

import shutil

import pytest

from tests.charts.conftest import chart_render, notes_of, probe_notes


@pytest.fixture(scope="module")
def notes(renderer, tmp_path_factory) -> str:
    source, _ = renderer.chart_dir("mlplatform")
    chart = tmp_path_factory.mktemp("notes") / "mlplatform"
    shutil.copytree(source, chart)
    probe = probe_notes(chart, chart)
    return notes_of(chart_render.helm_template("mlplatform", ["--show-only", probe], chart))


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
        "http://mlp-models-api.mlp.svc:8095/models",
        "get secret mlp-models-api-token",
    ],
)
def test_notes_point_each_user_somewhere(notes, where):
    assert where in notes
