"""Every DAG file imports without errors, and every recipe becomes its DAG (plus a watcher for signals)."""

from __future__ import annotations

import pytest
from airflow.dag_processing.dagbag import DagBag
from mlpipelines.recipe import load_recipes
from mlpipelines.settings import REPO_ROOT

from tests.conftest import RECIPES

DAGS = REPO_ROOT / "pipelines" / "dags"


@pytest.mark.parametrize("mode", ["kubernetes", "local"])
def test_dagbag_has_no_import_errors(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLP_PIPELINES__MODE", mode)
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    expected = set()
    for recipe in load_recipes(RECIPES):
        expected.add(recipe.name)
        if recipe.triggers.signal:
            expected.add(f"{recipe.name}-signal")
    assert expected and set(bag.dag_ids) == expected
    for recipe in load_recipes(RECIPES):
        dag = bag.dags[recipe.name]
        assert [task.task_id for task in dag.topological_sort()] == ["quality_gate", "train", "promote"]
        assert dag.get_task("train").upstream_task_ids == {"quality_gate"}
        assert dag.get_task("promote").upstream_task_ids == {"train"}
        assert f"{mode}" in dag.tags
