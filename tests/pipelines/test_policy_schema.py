"""The promotion policy's published JSON Schema gives the policy model's verdicts on the shared policy cases.

The schema is generated from the model (mlp_policy.schema; the promoter's tests keep the committed copy current)
for editors and other tools. The recipe validator's and the promoter's tests read the same cases, so all three
readers are held to one list; `schema` marks the few rules JSON Schema cannot say, where it is the looser.
"""

from __future__ import annotations

import json

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.conftest import ROOT

POLICY = ROOT / "pipelines" / "promoter" / "policy"
CASES = json.loads((POLICY / "tests" / "cases.json").read_text())["cases"]


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads((POLICY / "policy.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_schema_gives_the_shared_policy_verdicts(validator: Draft202012Validator, case: dict[str, object]) -> None:
    expected = case.get("schema", case["valid"])
    errors = [error.message for error in validator.iter_errors(case["policy"])]
    assert (not errors) == expected, errors


def test_the_shipped_recipes_promotion_sections_pass_the_schema(validator: Draft202012Validator) -> None:
    recipes = sorted((ROOT / "pipelines" / "recipes").glob("*.yaml"))
    assert recipes
    for recipe in recipes:
        promotion = yaml.safe_load(recipe.read_text())["promotion"]
        assert not list(validator.iter_errors(promotion)), recipe
