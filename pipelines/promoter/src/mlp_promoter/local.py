"""The `local` target: the champion served by one MLServer process from a model repository folder.

Each registered model is a folder `<repository>/<model>/<version>/` holding the downloaded MLflow
model and a `model-settings.json` (MLServer's MLflow runtime, adaptive batching from the policy).
A swap writes the new version, retires the old version's settings, then asks MLServer's repository
API to load the model: MLServer loads the new version and only then unloads the versions no longer
in the folder, so `/v2/models/<model>/infer` keeps answering (the old version until the new one
is ready). The server must run with `parallel_workers=0`: with worker processes a newly registered
version is the default before it is ready. A server that is down loads the folder when it starts.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow.artifacts
from mlp_policy import Serving

from mlp_promoter.errors import RolloutError
from mlp_promoter.targets import Rollout, Target

SETTINGS = "model-settings.json"
RETIRED = "model-settings.json.retired"
RUNTIME = "mlserver_mlflow.MLflowRuntime"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalOptions:
    repository: Path
    server_url: str
    timeout: float = 300.0


class LocalTarget(Target):
    """The model server of the local platform: one version at a time, swapped without a gap (no canary)."""

    name = "local"
    canary = False

    def __init__(self, options: LocalOptions, *, dry_run: bool = False) -> None:
        super().__init__(dry_run=dry_run)
        self.options = options

    @classmethod
    def from_cli(cls, args: argparse.Namespace) -> LocalTarget:
        return cls(LocalOptions(args.model_repository, args.server_url.rstrip("/")), dry_run=args.dry_run)

    def publish(self, model_name: str, rollouts: list[Rollout], serving: Serving) -> dict[str, Any]:
        (rollout,) = rollouts
        if self.dry_run:
            return {"serving": plan(model_name, rollout.version, serving, self.options)}
        return {"serving": serve(model_name, rollout.version, rollout.artifact_location, serving, self.options)}


def served_name(model_name: str) -> str:
    """The MLServer model name: the registered name, made safe for a URL path segment."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", model_name)


def model_settings(name: str, version: str, serving: Serving) -> dict[str, Any]:
    return {
        "name": name,
        "implementation": RUNTIME,
        "max_batch_size": serving.max_batch_size,
        "max_batch_time": serving.max_batch_time,
        # Shown by GET /v2/models/<name>: which registered version answers.
        "versions": [f"registered-model-version/{version}"],
        "parameters": {"uri": "./model", "version": version},
    }


def plan(model_name: str, version: str, serving: Serving, target: LocalOptions) -> dict[str, Any]:
    """What a swap would write, for --dry-run."""
    name = served_name(model_name)
    return {
        "model_settings_path": str(target.repository / name / version / SETTINGS),
        "model_settings": model_settings(name, version, serving),
        "infer_url": f"{target.server_url}/v2/models/{name}/infer",
    }


def serve(model_name: str, version: str, artifact_uri: str, serving: Serving, target: LocalOptions) -> dict[str, Any]:
    """Make `version` the one MLServer answers with, without a gap for callers."""
    name = served_name(model_name)
    home = target.repository / name
    folder = home / version
    if not (folder / "model" / "MLmodel").exists():
        _download(artifact_uri, folder)
    _write_json(folder / SETTINGS, model_settings(name, version, serving))
    previous = [p for p in home.iterdir() if p.is_dir() and p.name != version and (p / SETTINGS).exists()]
    for old in previous:
        (old / SETTINGS).replace(old / RETIRED)
    result: dict[str, Any] = {
        "model": name,
        "version": version,
        "infer_url": f"{target.server_url}/v2/models/{name}/infer",
    }
    try:
        loaded = _load(name, target)
    except RolloutError:
        for old in previous:  # the folder must keep describing what the server serves
            (old / RETIRED).replace(old / SETTINGS)
        (folder / SETTINGS).unlink(missing_ok=True)
        raise
    result["loaded"] = loaded
    if not loaded:
        result["note"] = f"model server not reachable at {target.server_url}; it loads {home} when it starts"
    for old in previous:
        shutil.rmtree(old, ignore_errors=True)
    return result


def _download(artifact_uri: str, folder: Path) -> None:
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    path = Path(mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=str(staging)))
    if path != staging / "model":
        path.rename(staging / "model")
    if not (staging / "model" / "MLmodel").exists():
        raise RolloutError(f"{artifact_uri} holds no MLflow model (MLmodel missing)")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def _load(name: str, target: LocalOptions) -> bool:
    """True when the server loaded the model; False when no server runs (it loads at start)."""
    url = f"{target.server_url}/v2/repository/models/{name}/load"
    try:
        response = httpx.post(url, timeout=target.timeout)
    except httpx.ConnectError:
        return False
    except httpx.HTTPError as exc:
        raise RolloutError(f"loading {name} into MLServer at {target.server_url} failed: {exc}") from exc
    if response.status_code != 200:
        raise RolloutError(f"MLServer refused to load {name} ({response.status_code}): {response.text[:500]}")
    return True


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
