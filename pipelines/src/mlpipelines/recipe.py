"""Recipes: one YAML file per MLflow project saying how it is trained, gated, triggered and promoted.

This module must not import Airflow: `mlp recipes validate` and editors use it without an Airflow install.
Errors name the file and the field (`recipes/x.yaml: promotion.direction: ...`) so authors can fix them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from mlp_policy import Policy, PolicyError, parse_duration, parse_policy
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, ValidationError, model_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,50}[a-z0-9]$"
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
CRON_FIELDS = 5
PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}

Scalar = str | int | float | bool


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file and each failing field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GitSource(Strict):
    url: str = Field(description="Clone URL, e.g. https://github.com/org/repo.git")
    ref: str = Field(description="Branch, tag or commit to train from.")
    subdirectory: str = Field(default="", description="The project's folder inside the repository.")

    def mlflow_uri(self) -> str:
        return f"{self.url}#{self.subdirectory}" if self.subdirectory else self.url


class Project(Strict):
    """Where the MLflow project is: a path (relative to the repository root) or a git repository."""

    path: str | None = None
    git: GitSource | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> Project:
        if (self.path is None) == (self.git is None):
            raise ValueError("give exactly one of `path` or `git`")
        if self.path is not None and (Path(self.path).is_absolute() or ".." in Path(self.path).parts):
            raise ValueError("`path` must be relative to the repository root, without '..'")
        return self


class Resources(Strict):
    requests: dict[Literal["cpu", "memory"], str] = {"cpu": "1", "memory": "2Gi"}
    limits: dict[Literal["cpu", "memory"], str] = {"cpu": "2", "memory": "4Gi"}

    @model_validator(mode="after")
    def quantities(self) -> Resources:
        for kind, values in (("requests", self.requests), ("limits", self.limits)):
            for key, value in values.items():
                if not QUANTITY.match(value):
                    raise ValueError(f"{kind}.{key} {value!r} is not a Kubernetes quantity (e.g. 500m, 2Gi)")
        return self


class DataQuality(Strict):
    """Checks on the training table that must pass before a pod is started."""

    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
    required_columns: list[str] = Field(min_length=1)
    max_null_share: float | dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default=0.0)
    min_rows: int = Field(default=1, ge=0)

    @model_validator(mode="after")
    def shares(self) -> DataQuality:
        if isinstance(self.max_null_share, float) and not 0 <= self.max_null_share <= 1:
            raise ValueError("max_null_share must be between 0 and 1")
        if isinstance(self.max_null_share, dict):
            unknown = sorted(set(self.max_null_share) - set(self.required_columns))
            if unknown:
                raise ValueError(f"max_null_share names columns not in required_columns: {unknown}")
        return self

    def null_limit(self, column: str) -> float:
        if isinstance(self.max_null_share, dict):
            return self.max_null_share.get(column, 0.0)
        return self.max_null_share


class Signal(Strict):
    """Retrain when a Prometheus query (drift, quality) is above a threshold."""

    query: str = Field(min_length=1)
    threshold: float
    check_every: str = Field(default="*/15 * * * *", description="Cron of the watcher DAG.")


class Drift(Strict):
    """Retrain when the champion's features drift: the exporter's PSI of any feature above `max_psi`."""

    max_psi: float = Field(default=0.2, gt=0, description="PSI of a feature's live values against training's.")
    check_every: str = Field(default="*/15 * * * *", description="Cron of the drift watcher DAG.")


def _duration(value: Any) -> float:
    try:
        return parse_duration(value, "cooldown")
    except PolicyError as exc:
        raise ValueError(str(exc).removeprefix("cooldown ")) from None


class Triggers(Strict):
    schedule: str | None = Field(default=None, description="Cron expression or preset such as @daily.")
    assets: list[str] = Field(default=[], description="Asset URIs whose updates start a run (new data).")
    signal: Signal | None = None
    drift: Drift | None = None
    cooldown: Annotated[float, PlainValidator(_duration)] = Field(
        default=3600.0,
        description="Seconds (or 30m, 6h) after a training starts during which new data, signal and drift do "
        "not start another; schedules and manual runs always do.",
    )

    @model_validator(mode="after")
    def crons(self) -> Triggers:
        check_cron("schedule", self.schedule)
        check_cron("signal.check_every", self.signal.check_every if self.signal else None)
        check_cron("drift.check_every", self.drift.check_every if self.drift else None)
        return self

    @property
    def cron(self) -> str | None:
        """The schedule as a cron expression (presets expanded)."""
        return PRESETS.get(self.schedule, self.schedule) if self.schedule else None


def check_cron(name: str, value: str | None) -> None:
    if value and value not in PRESETS and len(value.split()) != CRON_FIELDS:
        raise ValueError(f"{name} {value!r} is neither a 5-field cron expression nor one of {sorted(PRESETS)}")


class Batch(Strict):
    """Batch prediction on a schedule: `mlp-batch-predict` scores files in object storage with the model.

    The output folder may use Airflow's templates (`{{ dag_run.run_after | ds }}`, which manual runs have too): a
    folder per day, so a retried run resumes where the failed attempt stopped instead of scoring again.
    """

    schedule: str = Field(description="Cron expression or preset of the `<name>-batch` DAG.")
    input: list[str] = Field(min_length=1, description="s3://BUCKET/PATH of Parquet or CSV files; globs allowed.")
    output: str = Field(description="s3://BUCKET/FOLDER of the predictions; Airflow templates allowed.")
    alias: str = Field(default="champion", min_length=1, description="The alias whose version scores.")
    chunk_rows: int = Field(default=50_000, ge=1, description="Rows per chunk and output part.")
    resources: Resources = Resources()

    @model_validator(mode="after")
    def locations(self) -> Batch:
        check_cron("schedule", self.schedule)
        for name, uri in [*(("input", i) for i in self.input), ("output", self.output)]:
            if not re.match(r"^s3://[^/]+/.+", uri):
                raise ValueError(f"{name} {uri!r} is not an object storage location: write it as s3://BUCKET/PATH")
        return self

    @property
    def cron(self) -> str:
        return PRESETS.get(self.schedule, self.schedule)


def _promotion(value: Any) -> Policy:
    """The `promotion:` section, read by the promoter's own policy model (one model, mlp_policy)."""
    if isinstance(value, Policy):
        return value
    try:
        return parse_policy(value, where="promotion")
    except PolicyError as exc:
        raise ValueError(str(exc)) from None


# The promoter's policy: validated by mlp_policy.parse_policy, written back in its canonical form.
Promotion = Annotated[Policy, PlainValidator(_promotion), PlainSerializer(lambda policy: policy.to_dict())]


class Recipe(Strict):
    name: str = Field(pattern=NAME_PATTERN, description="DAG id; lowercase letters, digits and dashes.")
    description: str = ""
    project: Project
    entry_point: str = "main"
    parameters: dict[str, Scalar] = {}
    experiment: str | None = Field(default=None, description="MLflow experiment; the recipe name if unset.")
    model_name: str | None = Field(default=None, description="Registered model; the recipe name if unset.")
    image: str = Field(min_length=1, description="Image the training pod runs (cluster mode).")
    resources: Resources = Resources()
    timeout_minutes: int = Field(default=60, gt=0)
    retries: int = Field(default=0, ge=0)
    data: DataQuality | None = None
    triggers: Triggers = Triggers()
    promotion: Promotion
    batch: Batch | None = Field(default=None, description="Scheduled batch prediction with the champion.")
    owner: str = "data-science"
    tags: list[str] = []

    @property
    def experiment_name(self) -> str:
        return self.experiment or self.name

    @property
    def registered_model(self) -> str:
        return self.model_name or self.name


def load_recipe(path: Path) -> Recipe:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RecipeError(f"{path}: cannot read YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of fields, not {type(raw).__name__}")
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(f"{path}:\n{describe_errors(exc)}") from None
    if recipe.name != path.stem:
        raise RecipeError(f"{path}: name: {recipe.name!r} must match the file name ({path.stem!r})")
    return recipe


def describe_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(recipe)"
        message = item["msg"].removeprefix("Value error, ")
        # A section checked as a whole (promotion) names the exact field itself: `promotion.direction ...`.
        lines.append(f"  {message}" if message.startswith(f"{location}.") else f"  {location}: {message}")
    return "\n".join(lines)


# The DAG file of every recipe, `NAME.py` beside `NAME.yaml` (`mlp-recipes dag-files` writes missing ones).
# The words "airflow" and "DAG" let Airflow's discovery (safe mode) pick it up.
DAG_FILE = """\
# The Airflow DAGs of the recipe beside this file (same name, .yaml), built by the mlpipelines DAG factory.
# One DAG file per recipe: an invalid recipe is an import error of this file alone. Do not edit.
from mlpipelines.factory import recipe_dags

globals().update(recipe_dags(__file__))
"""


def recipe_beside(dag_file: Path) -> Path:
    """`NAME.yaml` (or `.yml`) beside the DAG file `NAME.py`."""
    for suffix in (".yaml", ".yml"):
        candidate = dag_file.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    raise RecipeError(f"{dag_file}: no recipe {dag_file.stem}.yaml beside this DAG file; add it or delete the DAG file")


def dag_file_of(recipe_path: Path) -> Path:
    return recipe_path.with_suffix(".py")


def recipe_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def load_recipes(directory: Path) -> list[Recipe]:
    """Every recipe in `directory`; one RecipeError listing all broken files."""
    recipes, problems = [], []
    for path in recipe_files(directory):
        try:
            recipes.append(load_recipe(path))
        except RecipeError as exc:
            problems.append(str(exc))
    if problems:
        raise RecipeError("\n".join(problems))
    return recipes
