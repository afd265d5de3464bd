"""What the exporter reads from MLflow's REST API: aliased model versions, their metrics, training references.

Plain REST (httpx) instead of the MLflow client keeps the exporter's environment small; the endpoints used are
stable parts of MLflow's public API (`registered-models/search`, `model-versions/get`, `runs/get`) and the
tracking server's `get-artifact`, which serves artifacts whatever store holds them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from mlplatform.observability.drift import ReferenceStats, from_document


@dataclass(frozen=True)
class AliasedVersion:
    model: str
    alias: str
    version: str
    run_id: str | None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgement:
    """The canary judge's decision on a version (`mlp-promote judge` tags it `mlp.promotion.judged_at`)."""

    model: str
    version: str
    decision: str
    judged_at: float


JUDGED_AT, JUDGEMENT = "mlp.promotion.judged_at", "mlp.promotion.judgement"


class RegistryError(Exception):
    """MLflow could not be read; the exporter keeps its last snapshot and counts the failure."""


class ModelRegistry:
    def __init__(self, base_url: str, timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        try:
            response = self._http.get(path, params=params)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RegistryError(f"GET {path}: {exc}") from None
        return body

    def registered_models(self) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"max_results": 100}
            if token:
                params["page_token"] = token
            page = self._get("/api/2.0/mlflow/registered-models/search", **params)
            yield from page.get("registered_models", [])
            token = page.get("next_page_token")
            if not token:
                return

    def aliased_versions(self, aliases: list[str]) -> list[AliasedVersion]:
        """The versions under `aliases` of every registered model, with their evaluation metrics."""
        found: list[AliasedVersion] = []
        for model in self.registered_models():
            name = model["name"]
            for entry in model.get("aliases", []):
                if entry.get("alias") not in aliases:
                    continue
                version = self._get("/api/2.0/mlflow/model-versions/get", name=name, version=entry["version"])
                detail = version.get("model_version", {})
                run_id = detail.get("run_id") or None
                found.append(
                    AliasedVersion(name, entry["alias"], str(entry["version"]), run_id, self._metrics(detail, run_id))
                )
        return found

    def judgements(self, models: list[str], per_model: int = 50) -> list[Judgement]:
        """The judge's decisions on the newest `per_model` versions of each model."""
        found: list[Judgement] = []
        for model in models:
            page = self._get(
                "/api/2.0/mlflow/model-versions/search",
                filter=f"name='{model}'",
                max_results=per_model,
                order_by="version_number DESC",
            )
            for version in page.get("model_versions", []):
                tags = {t["key"]: t["value"] for t in version.get("tags", [])}
                if JUDGED_AT not in tags:
                    continue
                try:
                    decision = json.loads(tags.get(JUDGEMENT, "{}")).get("decision", "unknown")
                    judged_at = datetime.fromisoformat(tags[JUDGED_AT]).timestamp()
                except (ValueError, AttributeError):
                    continue  # a tag written by hand: not the judge's
                outcome = {"finalize": "finalized", "rollback": "rolled_back"}.get(decision, decision)
                found.append(Judgement(model, str(version["version"]), outcome, judged_at))
        return found

    def version_run_id(self, model: str, version: str) -> str | None:
        """The run a version came from; None for a version the registry does not know (e.g. "unknown")."""
        if not version.isdigit():  # registry versions are numbers; MLflow answers 500 to anything else
            return None
        try:
            response = self._http.get("/api/2.0/mlflow/model-versions/get", params={"name": model, "version": version})
        except httpx.HTTPError as exc:
            raise RegistryError(f"version {version} of {model}: {exc}") from None
        if response.status_code in (400, 404):
            return None
        if response.status_code != 200:
            raise RegistryError(f"version {version} of {model}: HTTP {response.status_code}")
        run_id: str | None = response.json().get("model_version", {}).get("run_id") or None
        return run_id

    def _metrics(self, version: dict[str, Any], run_id: str | None) -> dict[str, float]:
        """The run's latest metric values, overridden by metrics MLflow 3 attaches to the version itself."""
        metrics: dict[str, float] = {}
        if run_id:
            run = self._get("/api/2.0/mlflow/runs/get", run_id=run_id)
            for metric in run.get("run", {}).get("data", {}).get("metrics", []):
                metrics[metric["key"]] = float(metric["value"])
        for metric in version.get("metrics", []) or []:
            if isinstance(metric, dict) and "key" in metric and "value" in metric:
                metrics[metric["key"]] = float(metric["value"])
        return metrics

    def reference(self, run_id: str, artifact: str) -> ReferenceStats | None:
        """Training's feature statistics of a run, or None when it logged none (or an unreadable one)."""
        try:
            response = self._http.get("/get-artifact", params={"path": artifact, "run_uuid": run_id})
        except httpx.HTTPError as exc:
            raise RegistryError(f"artifact {artifact} of run {run_id}: {exc}") from None
        if response.status_code != 200:
            return None
        try:
            return from_document(json.loads(response.content))
        except ValueError:
            return None
