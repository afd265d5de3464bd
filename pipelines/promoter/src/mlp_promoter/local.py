"""The `local` target: the champion, and a canary beside it, served by one MLServer process from a folder.

Each served version is a folder `<repository>/<model>/<version>/` holding the downloaded MLflow model and a
`model-settings.json` (MLServer's MLflow runtime, the registered version as MLServer's version, adaptive
batching from the policy): `/v2/models/<model>/versions/<version>/infer` answers with that version, which is
how the scoring processor sends each account's events to the version its sticky split chose. Unversioned calls
(`/v2/models/<model>/infer`) get MLServer's newest version, which during a canary is the canary: callers that
must reach the champion name its version. (Loading the champion a second time without a version does not work
around it: MLServer treats an unversioned load as a reload of its current default version.)

A publish writes the versions to serve, retires the settings of the others, then asks MLServer's repository
API to load the model: MLServer loads what the folder describes and only then unloads what left it, so
callers keep getting answers throughout. The server must run with `parallel_workers=0`: with worker
processes a newly registered version is the default before it is ready. A server that is down loads the
folder when it starts.
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
from mlp_policy import Policy, Serving

from mlp_promoter.errors import RolloutError
from mlp_promoter.targets import Rollout, Target

SETTINGS = "model-settings.json"
RETIRED = "model-settings.json.retired"
# The platform model server's MLflow runtime (platform/runtimes/mlserver): a request that does not fit the
# signature gets a 400 naming the problem instead of a 500.
RUNTIME = "mlp_mlserver.CheckedMLflowRuntime"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalOptions:
    repository: Path
    server_url: str
    timeout: float = 300.0


class LocalTarget(Target):
    """The model server of the local platform: the champion and a canary side by side, swapped without a gap."""

    name = "local"
    canary = True

    def __init__(self, options: LocalOptions, *, dry_run: bool = False) -> None:
        super().__init__(dry_run=dry_run)
        self.options = options

    @classmethod
    def from_cli(cls, args: argparse.Namespace) -> LocalTarget:
        return cls(LocalOptions(args.model_repository, args.server_url.rstrip("/")), dry_run=args.dry_run)

    def publish(self, model_name: str, rollouts: list[Rollout], policy: Policy) -> dict[str, Any]:
        # One process serves every version: batching applies, autoscaling is the cluster's.
        if self.dry_run:
            return {"serving": plan(model_name, rollouts, policy.serving, self.options)}
        return {"serving": serve(model_name, rollouts, policy.serving, self.options)}

    def version_state(self, model_name: str, version: str) -> dict[str, Any]:
        """Served when the repository holds the version's settings; ready when MLServer says so."""
        name, server = served_name(model_name), self.options.server_url
        placed = (self.options.repository / name / version / SETTINGS).exists()
        ready = False
        if placed:
            try:
                ready = httpx.get(f"{server}/v2/models/{name}/versions/{version}/ready", timeout=5).status_code == 200
            except httpx.HTTPError:
                ready = False
        state = ("ready" if ready else "loading or failed") if placed else "not in the model repository"
        return {
            "ready": ready,
            "state": state,
            "endpoint": version_url(server, name, version),
            "docs": f"{server}/v2/models/{name}/docs",
        }


def served_name(model_name: str) -> str:
    """The MLServer model name: the registered name, made safe for a URL path segment."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", model_name)


def model_settings(name: str, version: str, serving: Serving) -> dict[str, Any]:
    """MLServer's settings of one served version."""
    return {
        "name": name,
        "implementation": RUNTIME,
        "max_batch_size": serving.max_batch_size,
        "max_batch_time": serving.max_batch_time,
        # Shown by GET /v2/models/<name>: which registered version answers.
        "versions": [f"registered-model-version/{version}"],
        "parameters": {"uri": "./model", "version": version},
    }


def version_url(server_url: str, name: str, version: str) -> str:
    return f"{server_url}/v2/models/{name}/versions/{version}/infer"


def _layout(model_name: str, rollouts: list[Rollout], serving: Serving, target: LocalOptions) -> dict[Path, Any]:
    """Every settings file the rollouts need, by path: one per version."""
    name = served_name(model_name)
    home = target.repository / name
    return {home / r.version / SETTINGS: model_settings(name, r.version, serving) for r in rollouts}


def _description(model_name: str, rollouts: list[Rollout], target: LocalOptions) -> dict[str, Any]:
    name = served_name(model_name)
    return {
        "model": name,
        "version": rollouts[-1].version,
        "infer_url": f"{target.server_url}/v2/models/{name}/infer",
        "versions": [
            {"version": r.version, "traffic": r.traffic, "infer_url": version_url(target.server_url, name, r.version)}
            for r in rollouts
        ],
    }


def plan(model_name: str, rollouts: list[Rollout], serving: Serving, target: LocalOptions) -> dict[str, Any]:
    """What a publish would write, for --dry-run."""
    files = _layout(model_name, rollouts, serving, target)
    return {**_description(model_name, rollouts, target), "model_settings": {str(p): s for p, s in files.items()}}


def serve(model_name: str, rollouts: list[Rollout], serving: Serving, target: LocalOptions) -> dict[str, Any]:
    """Serve exactly `rollouts`, without a gap for callers."""
    name = served_name(model_name)
    home = target.repository / name
    for rollout in rollouts:
        folder = home / rollout.version
        if not (folder / "model" / "MLmodel").exists():
            _download(rollout.artifact_location, folder)
    files = _layout(model_name, rollouts, serving, target)
    kept = {path.parent for path in files}
    previous = {path: path.read_bytes() for path in files if path.exists()}
    retired = [p for p in home.iterdir() if p.is_dir() and p not in kept and (p / SETTINGS).exists()]
    for path, settings in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_json(path, settings)
    for old in retired:
        (old / SETTINGS).replace(old / RETIRED)
    result = _description(model_name, rollouts, target)
    try:
        loaded = _load(name, target)
    except RolloutError:
        # The folder must keep describing what the server serves.
        for path in files:
            if path in previous:
                path.write_bytes(previous[path])
            else:
                path.unlink(missing_ok=True)
        for old in retired:
            (old / RETIRED).replace(old / SETTINGS)
        raise
    result["loaded"] = loaded
    if not loaded:
        result["note"] = f"model server not reachable at {target.server_url}; it loads {home} when it starts"
    for old in retired:
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
