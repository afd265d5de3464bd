"""Every recipe's DAG file imports without errors and becomes its DAGs (training, watchers, batch prediction); an
invalid recipe is an import error of its own DAG file, naming the recipe and the field, and the others keep working."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag
from mlpipelines.recipe import DAG_FILE, load_recipes

from tests.conftest import RECIPES


@pytest.mark.parametrize("mode", ["kubernetes", "local"])
def test_dagbag_has_no_import_errors(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLP_PIPELINES__MODE", mode)
    bag = DagBag(dag_folder=str(RECIPES))
    assert bag.import_errors == {}
    expected = set()
    for recipe in load_recipes(RECIPES):
        expected.add(recipe.name)
        if recipe.triggers.signal:
            expected.add(f"{recipe.name}-signal")
        if recipe.triggers.drift:
            expected.add(f"{recipe.name}-drift")
        if recipe.batch:
            expected.add(f"{recipe.name}-batch")
    assert expected and set(bag.dag_ids) == expected
    for recipe in load_recipes(RECIPES):
        dag = bag.dags[recipe.name]
        steps = ["debounce", "quality_gate", "train", "promote", "judge"]
        assert [task.task_id for task in dag.topological_sort()] == steps
        assert dag.get_task("quality_gate").upstream_task_ids == {"debounce"}
        assert dag.get_task("train").upstream_task_ids == {"quality_gate"}
        assert dag.get_task("promote").upstream_task_ids == {"train"}
        assert dag.get_task("judge").upstream_task_ids == {"promote"}
        assert f"{mode}" in dag.tags


def test_every_recipe_has_the_factorys_dag_file() -> None:
    recipes = sorted(RECIPES.glob("*.yaml"))
    assert recipes
    for path in recipes:
        assert path.with_suffix(".py").read_text() == DAG_FILE, f"run `mlp recipes dag-files` for {path.name}"


def test_an_invalid_recipe_is_an_import_error_of_its_own_file(recipe_dir: Path) -> None:
    for path in RECIPES.glob("fraud-detection.*"):
        shutil.copy(path, recipe_dir / path.name)
    broken = yaml.safe_load((RECIPES / "fraud-detection.yaml").read_text())
    broken["name"] = "broken"
    broken["promotion"]["direction"] = "sideways"
    (recipe_dir / "broken.yaml").write_text(yaml.safe_dump(broken))
    (recipe_dir / "broken.py").write_text(DAG_FILE)

    bag = DagBag(dag_folder=str(recipe_dir))

    assert set(bag.import_errors) == {str(recipe_dir / "broken.py")}
    error = bag.import_errors[str(recipe_dir / "broken.py")]
    assert "broken.yaml" in error and "promotion.direction" in error, error
    assert "fraud-detection" in bag.dag_ids, "the valid recipe keeps its DAG"
    assert not any(dag_id.startswith("broken") for dag_id in bag.dag_ids)
