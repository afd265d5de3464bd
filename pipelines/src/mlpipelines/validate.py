"""Checking recipes against their projects: schema, project found, entry point and parameters match."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlpipelines.mlproject import check_recipe, checkout, read_mlproject
from mlpipelines.recipe import DAG_FILE, RecipeError, dag_file_of, load_recipe, recipe_files


@dataclass
class Outcome:
    path: Path
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_file(path: Path, repo_root: Path) -> Outcome:
    outcome = Outcome(path)
    dag_file = dag_file_of(path)
    if not dag_file.is_file() or dag_file.read_text() != DAG_FILE:
        state = "is missing" if not dag_file.is_file() else "differs from the factory's"
        outcome.problems.append(
            f"{path}: its DAG file {dag_file.name} {state}: run `mlp-recipes dag-files` to write it, then commit it"
        )
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


def write_dag_files(directory: Path) -> list[Path]:
    """Write the DAG file of every recipe in `directory` that lacks it (or has an outdated one)."""
    written = []
    for path in recipe_files(directory):
        dag_file = dag_file_of(path)
        if not dag_file.is_file() or dag_file.read_text() != DAG_FILE:
            dag_file.write_text(DAG_FILE)
            written.append(dag_file)
    return written


def validate_dir(directory: Path, repo_root: Path) -> list[Outcome]:
    files = recipe_files(directory)
    if not files:
        return [Outcome(directory, [f"{directory}: no recipes (*.yaml) found"])]
    return [validate_file(path, repo_root) for path in files]
