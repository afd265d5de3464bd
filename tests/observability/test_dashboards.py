"""Dashboards as code: the chart's files are exactly what the generator writes, with the platform's variables."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlplatform.observability import dashboards
from mlplatform.observability.panels import panel_queries
from mlplatform.observability.paths import DASHBOARDS_DIR

GENERATED = sorted(dashboards.generated())


def check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlplatform.observability.dashboards", "--check", "--output", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_regeneration_changes_nothing() -> None:
    result = check(DASHBOARDS_DIR)
    assert result.returncode == 0, result.stderr


def test_check_fails_on_a_hand_edit_and_a_stray_file(tmp_path: Path) -> None:
    folder = tmp_path / "dashboards"
    shutil.copytree(DASHBOARDS_DIR, folder)
    edited = folder / GENERATED[0]
    edited.write_text(edited.read_text().replace('"refresh": "30s"', '"refresh": "5s"'))
    (folder / "stray.json").write_text("{}")
    result = check(folder)
    assert result.returncode == 1
    assert f"{GENERATED[0]}: differs" in result.stderr and "stray.json: not generated" in result.stderr


def test_the_issue_dashboards_exist() -> None:
    titles = {json.loads((DASHBOARDS_DIR / name).read_text())["title"] for name in GENERATED}
    for wanted in ("Model serving", "Model quality", "Streaming", "Pipelines", "Kafka and Connect"):
        assert any(wanted in title for title in titles), (wanted, titles)


@pytest.mark.parametrize("name", GENERATED)
def test_dashboards_use_template_variables(name: str) -> None:
    dashboard = json.loads((DASHBOARDS_DIR / name).read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["namespace"]["current"]["value"] == "mlp"
    queries = [q for panel in panel_queries() for q in panel if q.dashboard == dashboard["title"]]
    assert queries and all('namespace=~"$namespace"' in q.expr for q in queries), name
    if "model" in variables:
        assert variables["model"]["includeAll"] and variables["model"]["allValue"] == ".*"
        assert "label_values(" in variables["model"]["query"], "models come from the metrics, not a fixed list"


def test_uids_and_titles_are_unique() -> None:
    found = [json.loads(p.read_text()) for p in DASHBOARDS_DIR.glob("*.json")]
    assert len({d["uid"] for d in found}) == len(found)
    assert len({d["title"] for d in found}) == len(found)
