"""Broken recipes are refused with messages naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from mlp_policy import Policy, parse_policy
from mlpipelines import cli
from mlpipelines.recipe import Recipe, RecipeError, load_recipe, load_recipes
from mlpipelines.settings import REPO_ROOT
from mlpipelines.validate import validate_dir

from tests.conftest import RECIPES

BASE = yaml.safe_load((RECIPES / "fraud-detection.yaml").read_text())


def write(folder: Path, name: str, **changes: object) -> Path:
    recipe = {**BASE, "name": name, **changes}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"promotion": {**BASE["promotion"], "direction": "up"}}, "promotion.direction"),
        ({"promotion": {**BASE["promotion"], "canary_traffic": 100}}, "promotion.canary_traffic"),
        ({"image": ""}, "image"),
        ({"imagee": "typo"}, "imagee"),
        ({"resources": {"requests": {"cpu": "lots"}}}, "resources"),
        ({"triggers": {"schedule": "every day"}}, "triggers"),
        ({"data": {**BASE["data"], "max_null_share": {"missing_col": 0.1}}}, "data"),
        ({"project": {"path": "/abs/path"}}, "project"),
        ({"batch": {**BASE["batch"], "input": ["/data/*.parquet"]}}, "batch"),
        ({"batch": {**BASE["batch"], "schedule": "nightly"}}, "batch"),
        ({"batch": {**BASE["batch"], "chunk_rows": 0}}, "batch.chunk_rows"),
        ({"batch": {**BASE["batch"], "inputs": ["s3://a/b.csv"]}}, "batch.inputs"),
    ],
)
def test_schema_errors_name_file_and_field(recipe_dir: Path, changes: dict[str, object], field: str) -> None:
    path = write(recipe_dir, "broken", **changes)
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    message = str(error.value)
    assert str(path) in message
    assert f"  {field}" in message


def test_missing_required_field(recipe_dir: Path) -> None:
    recipe = {key: value for key, value in BASE.items() if key != "promotion"}
    path = recipe_dir / "fraud-detection.yaml"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(RecipeError, match=r"fraud-detection.yaml:\n  promotion: Field required"):
        load_recipe(path)


def test_name_must_match_file(recipe_dir: Path) -> None:
    path = recipe_dir / "other.yaml"
    path.write_text(yaml.safe_dump(BASE))
    with pytest.raises(RecipeError, match=r"other.yaml: name: 'fraud-detection' must match"):
        load_recipe(path)


def test_all_broken_files_are_reported_together(recipe_dir: Path) -> None:
    write(recipe_dir, "one", image="")
    write(recipe_dir, "two", entry_point=123)
    with pytest.raises(RecipeError) as error:
        load_recipes(recipe_dir)
    assert "one.yaml" in str(error.value) and "two.yaml" in str(error.value)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"entry_point": "serve"}, "entry_point: 'serve' is not in MLproject"),
        ({"parameters": {"n_trees": 5}}, "parameters.n_trees: entry point 'main' has no such parameter"),
        ({"parameters": {"seed": "abc"}}, "parameters.seed: 'abc' is not a number"),
        ({"project": {"path": "examples/does-not-exist"}}, "project.path:"),
    ],
)
def test_recipe_must_match_its_mlproject(recipe_dir: Path, changes: dict[str, object], expected: str) -> None:
    path = write(recipe_dir, "mismatch", **changes)
    (outcome,) = validate_dir(recipe_dir, REPO_ROOT)
    assert not outcome.ok
    assert any(problem.startswith(f"{path}: {expected}") for problem in outcome.problems), outcome.problems


def test_shipped_recipes_are_valid() -> None:
    outcomes = validate_dir(RECIPES, REPO_ROOT)
    assert outcomes and all(outcome.ok for outcome in outcomes), [o.problems for o in outcomes]


def test_cli_validate_exit_codes(recipe_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--recipes", str(RECIPES), "validate"]) == 0
    write(recipe_dir, "bad", entry_point="nope")
    assert cli.main(["--recipes", str(recipe_dir), "validate"]) == 1
    out = capsys.readouterr().out
    assert "✗ bad.yaml" in out and "entry_point: 'nope'" in out


def test_cli_show_prints_tasks_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--recipes", str(RECIPES), "--mode", "kubernetes", "show", "fraud-detection"]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    main = documents[0]
    assert [task["task"] for task in main["tasks"]] == ["debounce", "quality_gate", "train", "promote", "judge"]
    assert main["tasks"][2]["pod"]["spec"]["serviceAccountName"] == "mlp-pipelines"
    batch = next(d for d in documents if d["dag"] == "fraud-detection-batch")
    assert batch["schedule"] == ["cron '0 4 * * *' (UTC)"]
    assert [task["task"] for task in batch["tasks"]] == ["predict"]
    assert cli.main(["--recipes", str(RECIPES), "show", "unknown"]) == 2


def test_the_promotion_section_is_the_promoters_own_policy_model() -> None:
    """One model (mlp_policy) for the recipe's `promotion:` and `mlp-promote --policy`: what the recipe accepts is
    what the promoter reads, spelled-out directions and bare-number bars included."""
    recipe = load_recipe(RECIPES / "fraud-detection.yaml")
    assert isinstance(recipe.promotion, Policy)
    assert parse_policy(json.loads(recipe.promotion.to_json())) == recipe.promotion
    spelled = {**BASE["promotion"], "direction": "maximize", "thresholds": {"roc_auc": 0.9}}
    assert Recipe.model_validate({**BASE, "promotion": spelled}).promotion.direction == "max"


# The policy cases every reader of the policy is held to (the promoter's tests and the schema's read them too).
POLICY_CASES = json.loads((REPO_ROOT / "pipelines/promoter/policy/tests/cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", POLICY_CASES, ids=[case["name"] for case in POLICY_CASES])
def test_the_recipe_validator_gives_the_shared_policy_verdicts(recipe_dir: Path, case: dict[str, object]) -> None:
    path = write(recipe_dir, "policy", promotion=case["policy"])
    if case["valid"]:
        assert load_recipe(path).promotion == parse_policy(case["policy"])
        return
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert f"{path}" in str(error.value) and "promotion" in str(error.value)
    assert str(case["error"]) in str(error.value)
