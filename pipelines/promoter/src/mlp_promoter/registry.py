"""What the promoter reads from and writes to MLflow: runs, logged models, versions, aliases, tags.

Audit tags live on the model version under `mlp.promotion.*`, so the registry UI shows why each
version is (or is not) the champion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.entities import LoggedModel, ViewType
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from mlp_promoter.decision import Champion, RunSummary
from mlp_promoter.errors import PromoterError

CHAMPION = "champion"
CHALLENGER = "challenger"
TAG_PREFIX = "mlp.promotion."
_MAX_RUNS = 50_000


def tag(name: str) -> str:
    return TAG_PREFIX + name


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Registry:
    client: MlflowClient
    model_name: str

    # -- runs ------------------------------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            raise PromoterError(f"experiment {name!r} does not exist on {self.client.tracking_uri}")
        return str(experiment.experiment_id)

    def finished_runs(self, experiment_id: str) -> list[RunSummary]:
        runs: list[RunSummary] = []
        token: str | None = None
        while len(runs) < _MAX_RUNS:
            page = self.client.search_runs(
                [experiment_id],
                filter_string="attributes.status = 'FINISHED'",
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=1000,
                page_token=token,
            )
            runs.extend(RunSummary(r.info.run_id, r.info.start_time or 0, dict(r.data.metrics)) for r in page)
            token = page.token
            if not token:
                break
        return runs

    def run_metric(self, run_id: str, metric: str) -> float | None:
        try:
            value = self.client.get_run(run_id).data.metrics.get(metric)
        except MlflowException:
            return None  # the champion's run was deleted: nothing to compare with
        return float(value) if value is not None else None

    def logged_model(self, experiment_id: str, run_id: str, artifact: str | None) -> LoggedModel:
        """The model the run logged; `artifact` picks one by name when the run logged several."""
        models = list(self.client.search_logged_models([experiment_id], filter_string=f"source_run_id = '{run_id}'"))
        if artifact:
            models = [m for m in models if m.name == artifact]
        if len(models) > 1:
            named = [m for m in models if m.name == "model"]
            if len(named) != 1:
                names = ", ".join(sorted(m.name for m in models))
                raise PromoterError(f"run {run_id} logged several models ({names}); choose one with --model-artifact")
            models = named
        if not models:
            which = f" named {artifact!r}" if artifact else ""
            raise PromoterError(f"run {run_id} logged no model{which} (log one with mlflow.<flavor>.log_model)")
        return models[0]

    # -- versions and aliases ----------------------------------------------------------------------
    def alias(self, alias: str) -> ModelVersion | None:
        try:
            return self.client.get_model_version_by_alias(self.model_name, alias)
        except MlflowException:
            return None

    def champion(self, metric: str) -> Champion | None:
        version = self.alias(CHAMPION)
        if version is None:
            return None
        value = self.run_metric(version.run_id, metric) if version.run_id else None
        if value is None and version.tags.get(tag("metric")) == metric:
            value = _float(version.tags.get(tag("candidate_value")))
        return Champion(version=str(version.version), run_id=version.run_id, value=value)

    def exists(self) -> bool:
        try:
            self.client.get_registered_model(self.model_name)
            return True
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise

    def version_of_run(self, run_id: str) -> ModelVersion | None:
        if not self.exists():
            return None
        versions = self.client.search_model_versions(f"name = '{self.model_name}' and run_id = '{run_id}'")
        return max(versions, key=lambda v: int(v.version)) if versions else None

    def rolled_back_runs(self) -> set[str]:
        """Runs whose registered versions were rolled back (by a person or the judge)."""
        if not self.exists():
            return set()
        versions = self.client.search_model_versions(f"name = '{self.model_name}'")
        return {str(v.run_id) for v in versions if v.run_id and v.tags.get(tag("decision")) == "rolled_back"}

    def version(self, number: str) -> ModelVersion:
        return self.client.get_model_version(self.model_name, number)

    def register(self, model: LoggedModel, run_id: str) -> ModelVersion:
        if not self.exists():
            try:
                self.client.create_registered_model(self.model_name)
            except MlflowException as exc:
                if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
                    raise
        version = self.client.create_model_version(
            self.model_name, source=f"models:/{model.model_id}", run_id=run_id, model_id=model.model_id
        )
        if version.status == "PENDING_REGISTRATION":
            retrying = Retrying(
                retry=retry_if_result(lambda current: current.status == "PENDING_REGISTRATION"),
                stop=stop_after_delay(120),
                wait=wait_fixed(0.5),
            )
            try:
                version = retrying(self.client.get_model_version, self.model_name, version.version)
            except RetryError:
                raise PromoterError(f"model version {version.version} is still being registered after 120s") from None
        if version.status != "READY":
            raise PromoterError(f"model version {version.version} did not become READY ({version.status})")
        return version

    def artifact_location(self, version: ModelVersion) -> str:
        """Where the version's model files are (`mlflow-artifacts:/...` on a proxying server)."""
        model_id = getattr(version, "model_id", None)
        if not model_id and version.source and version.source.startswith("models:/m-"):
            model_id = version.source.removeprefix("models:/")
        if model_id:
            return str(self.client.get_logged_model(model_id).artifact_location)
        if version.source and not version.source.startswith(("runs:/", "models:/")):
            return str(version.source)
        raise PromoterError(
            f"cannot locate the files of {self.model_name} version {version.version} ({version.source})"
        )

    def write_tags(self, version: str, tags: dict[str, object]) -> None:
        for key, value in tags.items():
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            self.client.set_model_version_tag(self.model_name, version, tag(key), text)

    def set_alias(self, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(self.model_name, alias, version)

    def drop_alias(self, alias: str) -> None:
        if self.alias(alias) is not None:
            self.client.delete_registered_model_alias(self.model_name, alias)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
