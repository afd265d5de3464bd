"""`python -m mlpipelines.cli validate|dag-files|show|gate`: what `mlp recipes …` runs in the pipelines env.

validate: every recipe's schema, its project found, its entry point and parameters matching the MLproject.
dag-files: write the DAG file (`NAME.py`) of every recipe that lacks it.
show NAME: the DAG the recipe becomes (tasks, order, pod specs or local commands), as YAML.
gate NAME: run the recipe's data-quality gate now against the warehouse (MLP_PIPELINES__WAREHOUSE_DSN and
WAREHOUSE_PASSWORD), printing its report.
Exit codes: 0 ok, 1 invalid recipe or failed gate, 2 usage (unknown recipe).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

from mlpipelines.quality import connect, inspect
from mlpipelines.recipe import Recipe, RecipeError, load_recipe
from mlpipelines.settings import PipelineSettings
from mlpipelines.validate import validate_dir, write_dag_files


def validate(settings: PipelineSettings) -> int:
    outcomes = validate_dir(settings.recipes_dir, settings.repo_root)
    for outcome in outcomes:
        if outcome.ok:
            print(f"✔ {outcome.path.name}")
        else:
            print(f"✗ {outcome.path.name}")
            for problem in outcome.problems:
                print(f"  {problem}")
    failed = sum(not outcome.ok for outcome in outcomes)
    print(f"{len(outcomes) - failed} valid, {failed} invalid recipe(s) in {settings.recipes_dir}")
    return 1 if failed else 0


def find_recipe(settings: PipelineSettings, name: str) -> Recipe | int:
    """The recipe, or the exit code to return (after printing why)."""
    candidates = [settings.recipes_dir / f"{name}{ext}" for ext in (".yaml", ".yml")]
    path = next((candidate for candidate in candidates if candidate.exists()), None)
    if path is None:
        print(f"no recipe {name!r} in {settings.recipes_dir}", file=sys.stderr)
        return 2
    try:
        return load_recipe(path)
    except RecipeError as exc:
        print(exc, file=sys.stderr)
        return 1


def show(settings: PipelineSettings, name: str) -> int:
    recipe = find_recipe(settings, name)
    if isinstance(recipe, int):
        return recipe
    # Airflow (imported only when needed) logs to stdout when it first reads its configuration: stdout is the YAML's.
    with contextlib.redirect_stdout(io.StringIO()):
        from mlpipelines.show import describe

        text = describe(recipe, settings)
    print(text, end="")
    return 0


def gate(settings: PipelineSettings, name: str) -> int:
    recipe = find_recipe(settings, name)
    if isinstance(recipe, int):
        return recipe
    if recipe.data is None:
        print(f"recipe {name} has no data-quality checks")
        return 0
    with connect(settings.warehouse_dsn) as conn:
        report = inspect(conn, recipe.data)
    print(report.render())
    return 0 if report.passed else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlp recipes", description="Check recipes and show the DAGs they become.")
    parser.add_argument("--recipes", type=Path, help="Recipes folder (default: pipelines/recipes).")
    parser.add_argument("--mode", choices=["kubernetes", "local"], help="Override MLP_PIPELINES__MODE.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("validate", help="Check every recipe (and that it has its DAG file).")
    commands.add_parser("dag-files", help="Write the DAG file (NAME.py) of every recipe that lacks it.")
    shown = commands.add_parser("show", help="Print the DAG a recipe becomes.")
    shown.add_argument("name")
    gated = commands.add_parser("gate", help="Run a recipe's data-quality gate now.")
    gated.add_argument("name")
    args = parser.parse_args(argv)
    overrides: dict[str, object] = {}
    if args.recipes:
        overrides["recipes_dir"] = args.recipes.resolve()
    if args.mode:
        overrides["mode"] = args.mode
    settings = PipelineSettings(**overrides)  # type: ignore[arg-type]
    if args.command == "validate":
        return validate(settings)
    if args.command == "dag-files":
        written = write_dag_files(settings.recipes_dir)
        for path in written:
            print(f"wrote {path}")
        print(f"{len(written)} DAG file(s) written in {settings.recipes_dir}")
        return 0
    if args.command == "gate":
        return gate(settings, args.name)
    return show(settings, args.name)


if __name__ == "__main__":
    sys.exit(main())
