"""Checking recipes against their projects: schema, project found, entry point and parameters match."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlpipelines.mlproject import check_recipe, checkout, read_mlproject
from mlpipelines.recipe import RecipeError, load_recipe, recipe_files


@dataclass
class Outcome:
    path: Path
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_file(path: Path, repo_root: Path) -> Outcome:
    outcome = Outcome(path)
    try:
        recipe = load_recipe(path)
    except RecipeError as exc:
        outcome.problems.append(str(exc))
        return outcome
    try:
        with checkout(recipe, repo_root) as directory:
            project = read_mlproject(directory)
            outcome.problems += [f"{path}: {problem}" for problem in check_recipe(recipe, project)]
    except (ValueError, OSError) as exc:
        outcome.problems.append(f"{path}: {exc}")
    return outcome


def validate_dir(directory: Path, repo_root: Path) -> list[Outcome]:
    files = recipe_files(directory)
    if not files:
        return [Outcome(directory, [f"{directory}: no recipes (*.yaml) found"])]
    return [validate_file(path, repo_root) for path in files]
