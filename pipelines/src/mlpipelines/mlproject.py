"""Reading an MLflow project's MLproject file, to check that a recipe asks for what the project offers."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlpipelines.recipe import Recipe

NUMERIC_TYPES = {"float", "int", "integer", "double", "number"}
GIT_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    has_default: bool


@dataclass(frozen=True)
class EntryPoint:
    name: str
    parameters: dict[str, Parameter]


@dataclass(frozen=True)
class MLProject:
    directory: Path
    name: str
    entry_points: dict[str, EntryPoint]


def read_mlproject(directory: Path) -> MLProject:
    """The project in `directory`; ValueError when there is none or it is malformed."""
    path = next((directory / name for name in ("MLproject", "mlproject") if (directory / name).is_file()), None)
    if path is None:
        raise ValueError(f"no MLproject file in {directory}")
    spec = yaml.safe_load(path.read_text()) or {}
    entry_points: dict[str, EntryPoint] = {}
    for entry_name, entry in (spec.get("entry_points") or {}).items():
        parameters = {}
        for param_name, param in ((entry or {}).get("parameters") or {}).items():
            if isinstance(param, dict):
                parameters[param_name] = Parameter(param_name, str(param.get("type", "string")), "default" in param)
            else:  # the short form `name: type`
                parameters[param_name] = Parameter(param_name, str(param), False)
        entry_points[entry_name] = EntryPoint(entry_name, parameters)
    return MLProject(directory, str(spec.get("name", directory.name)), entry_points)


def check_recipe(recipe: Recipe, project: MLProject) -> list[str]:
    """Problems of `recipe` against `project`, each naming the recipe field."""
    entry = project.entry_points.get(recipe.entry_point)
    if entry is None:
        return [f"entry_point: {recipe.entry_point!r} is not in MLproject (it has {sorted(project.entry_points)})"]
    problems = []
    for name, value in recipe.parameters.items():
        param = entry.parameters.get(name)
        if param is None:
            problems.append(
                f"parameters.{name}: entry point {entry.name!r} has no such parameter ({sorted(entry.parameters)})"
            )
        elif param.type in NUMERIC_TYPES and (isinstance(value, bool) or not _is_number(value)):
            problems.append(f"parameters.{name}: {value!r} is not a number (MLproject type {param.type})")
    for name, param in entry.parameters.items():
        if not param.has_default and name not in recipe.parameters:
            problems.append(f"parameters.{name}: required by entry point {entry.name!r} (no default) but not set")
    return problems


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


@contextmanager
def checkout(recipe: Recipe, repo_root: Path) -> Iterator[Path]:
    """The project's folder: the local path, or a shallow clone of the git ref in a temporary folder."""
    if recipe.project.path is not None:
        directory = repo_root / recipe.project.path
        if not directory.is_dir():
            raise ValueError(f"project.path: {directory} does not exist")
        yield directory
        return
    git = recipe.project.git
    assert git is not None
    with tempfile.TemporaryDirectory(prefix="mlp-recipe-") as tmp:
        result = subprocess.run(
            ["git", "clone", "--quiet", "--depth", "1", "--branch", git.ref, git.url, tmp],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise ValueError(f"project.git: cannot clone {git.url} at {git.ref}: {result.stderr.strip()[-500:]}")
        directory = Path(tmp) / git.subdirectory
        if not directory.is_dir():
            raise ValueError(f"project.git.subdirectory: {git.subdirectory!r} is not in {git.url}@{git.ref}")
        yield directory
