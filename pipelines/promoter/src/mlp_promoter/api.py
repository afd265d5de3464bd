"""The model management API: every registered model, where it is served, and the promoter's actions, over REST.

It is the promoter's own service: it reads the registry (versions, aliases, the promoter's decision tags), asks
the serving target (`local`: the platform's MLServer; `seldon`: the SeldonDeployments) what it serves, and its
actions are the promoter's: promote by policy, finalize or roll back a canary. Pausing retraining pauses the
Airflow DAGs the DAG factory tagged with the model (`mlp-model:<name>`). FastAPI generates its OpenAPI document
(`/openapi.json`, browsable at `/docs`); every served version links its own V2 page on the model server.

A response holds names, versions, URLs and decisions only: no credentials reach it, and errors name the model
and the fix, never a connection string. With `MLP_MODELS_API_TOKEN` set, every call but `/health` needs
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, BaseSettings, Field, SecretStr

from mlp_promoter.decision import COMPARISONS
from mlp_promoter.errors import PromoterError
from mlp_promoter.registry import CHALLENGER, CHAMPION, TAG_PREFIX, Registry

ENV_PREFIX = "MLP_MODELS_API_"
#: The DAG tag that names the registered model a DAG trains (mlpipelines.factory).
MODEL_TAG = "mlp-model:"
BEARER = HTTPBearer(auto_error=False)
NO_AIRFLOW = f"Airflow is not configured: set {ENV_PREFIX}AIRFLOW_URL, _USER and _PASSWORD"


class ApiSettings(BaseSettings):
    """Where the API listens and what it manages; `MLP_MODELS_API_<NAME>` variables."""

    host: str = "127.0.0.1"
    port: int = 8095
    tracking_uri: str = "http://127.0.0.1:5000"
    target: str = Field("local", description="local (MLServer) or seldon (SeldonDeployments)")
    #: The promoter's target options, as `mlp-promote` takes them (e.g. ["--server-url", "http://..."]).
    target_args: list[str] = []
    prometheus_url: str = "http://127.0.0.1:9090"
    airflow_url: str | None = None
    airflow_user: str | None = None
    airflow_password: SecretStr | None = None
    token: SecretStr | None = None

    class Config:
        env_prefix = ENV_PREFIX


# -- Responses (their schemas are the OpenAPI document's) -------------------------------------------------------


class ServedVersion(BaseModel):
    version: str
    role: str = Field(description="champion or canary")
    traffic: int = Field(description="percent of traffic (accounts) it scores")
    ready: bool
    state: str = Field(description="what the serving target says of it")
    endpoint: str = Field(description="V2 inference URL of this version")
    docs: str = Field(description="the model's own V2 OpenAPI page on the model server")


class Decision(BaseModel):
    version: str
    decision: str
    at: str | None
    reasons: list[str] = []


class ModelVersionInfo(BaseModel):
    version: str
    aliases: list[str]
    status: str
    run_id: str | None
    decision: str | None


class ModelSummary(BaseModel):
    name: str
    aliases: dict[str, str]
    champion: str | None
    canary: str | None
    served: list[ServedVersion]
    healthy: bool = Field(description="every version that should serve answers ready")
    last_decision: Decision | None


class ModelDetail(ModelSummary):
    versions: list[ModelVersionInfo]
    retraining: list[dict[str, Any]] = Field(description="the Airflow DAGs that train the model, and if paused")


class PromoteRequest(BaseModel):
    experiment: str
    policy: dict[str, Any] = Field(description="the promotion policy, as a recipe's `promotion:` section")
    compare: str = Field("offline", description="offline or live (a canary challenges the champion)")


class RollbackRequest(BaseModel):
    reason: str = "rolled back through the model management API"


class PauseRequest(BaseModel):
    paused: bool = True


# -- The application ---------------------------------------------------------------------------------------------


def create_app(settings: ApiSettings) -> FastAPI:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from mlp_promoter.cli import parser
    from mlp_promoter.targets import target_class

    # The promoter's artifact downloads (the local target) read the tracking URI from the environment.
    os.environ["MLFLOW_TRACKING_URI"] = settings.tracking_uri
    app = FastAPI(
        title="mlplatform model management",
        version="1",
        description="Registered models, where each is served, the traffic split, health, endpoints and the last "
        "promotion decision; actions: promote, finalize, rollback, pause retraining.",
    )
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    # The target, as `mlp-promote` builds it from the same options: what serves, and where actions publish.
    options = ["--model-name", "-", "--target", settings.target, "--tracking-uri", settings.tracking_uri]
    target = target_class(settings.target).from_cli(parser("finalize").parse_args(options + settings.target_args))

    def authorized(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if settings.token is None:
            return
        expected = settings.token.get_secret_value()
        if credentials is None or not secrets.compare_digest(credentials.credentials, expected):
            raise HTTPException(401, "a token is required: send `Authorization: Bearer <token>`")

    def registered(name: str) -> Any:
        try:
            return client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise HTTPException(404, f"no registered model {name!r}: `GET /models` lists them") from None
            raise

    def summary(model: Any, versions: list[Any]) -> ModelSummary:
        """A model's state from its registered model (aliases) and its versions (tags): one read of each."""
        aliases = {alias: str(version) for alias, version in (model.aliases or {}).items()}
        champion, canary = aliases.get(CHAMPION), aliases.get(CHALLENGER)
        split = _split(versions, champion, canary)
        served = [_served(target, model.name, version, role, traffic) for version, role, traffic in split]
        return ModelSummary(
            name=model.name,
            aliases=aliases,
            champion=champion,
            canary=canary,
            served=served,
            healthy=bool(served) and all(s.ready for s in served),
            last_decision=_last_decision(versions),
        )

    def versions_of(name: str) -> list[Any]:
        return sorted(client.search_model_versions(f"name = '{_quote(name)}'"), key=lambda v: int(v.version))

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/models", response_model=list[ModelSummary], dependencies=[Depends(authorized)])
    def list_models() -> list[ModelSummary]:
        """Every registered model with its serving state."""
        return [summary(m, versions_of(m.name)) for m in _all_models(client)]

    @app.get("/models/{name}", response_model=ModelDetail, dependencies=[Depends(authorized)])
    def show_model(name: str) -> ModelDetail:
        """One model: its versions and their decisions, serving state, and the DAGs that retrain it."""
        found = versions_of(name)
        base = summary(registered(name), found)
        # A version search does not fill in aliases: the registered model's map does.
        named: dict[str, list[str]] = {}
        for alias, number in base.aliases.items():
            named.setdefault(number, []).append(alias)
        versions = [
            ModelVersionInfo(
                version=str(v.version),
                aliases=sorted(named.get(str(v.version), [])),
                status=str(v.status),
                run_id=v.run_id,
                decision=(v.tags or {}).get(TAG_PREFIX + "decision"),
            )
            for v in found
        ]
        return ModelDetail(**base.dict(), versions=versions, retraining=_retraining(settings, name))

    def act(name: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        from mlp_promoter import promote

        registered(name)
        reg = Registry(client, name)
        try:
            if action == "finalize":
                return promote.finalize(reg, target)
            if action == "rollback":
                return promote.rollback(reg, target, (body or {})["reason"])
            from mlp_policy import PolicyError, parse_policy

            assert body is not None
            try:
                policy = parse_policy(body["policy"], where="policy")
            except PolicyError as exc:
                raise HTTPException(422, str(exc)) from None
            return promote.promote(reg, body["experiment"], policy, target, None, body["compare"])
        except PromoterError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post("/models/{name}/promote", dependencies=[Depends(authorized)])
    def promote_model(name: str, request: PromoteRequest) -> dict[str, Any]:
        """Promote the best run of `experiment` by `policy` (a canary beside the champion when it asks for one)."""
        if request.compare not in COMPARISONS:
            raise HTTPException(422, f"compare must be one of {', '.join(COMPARISONS)}")
        return act(name, "promote", request.dict())

    @app.post("/models/{name}/finalize", dependencies=[Depends(authorized)])
    def finalize_model(name: str) -> dict[str, Any]:
        """The canary takes all traffic and becomes the champion."""
        return act(name, "finalize")

    @app.post("/models/{name}/rollback", dependencies=[Depends(authorized)])
    def rollback_model(name: str, request: RollbackRequest | None = None) -> dict[str, Any]:
        """The canary is withdrawn; the champion serves all traffic."""
        return act(name, "rollback", (request or RollbackRequest()).dict())

    @app.post("/models/{name}/retraining", dependencies=[Depends(authorized)])
    def pause_retraining(name: str, request: PauseRequest) -> dict[str, Any]:
        """Pause (or resume) every DAG that retrains the model: schedules, new data, signals and drift. The model
        need not be registered yet: its recipe's DAGs exist before its first training."""
        if not settings.airflow_url:  # not "no DAG retrains it": nobody asked Airflow
            raise HTTPException(503, NO_AIRFLOW)
        with _airflow(settings) as airflow:
            dags = [dag["dag_id"] for dag in _dags(airflow, name)]
            if not dags:
                raise HTTPException(404, f"no Airflow DAG retrains {name!r} (none is tagged {MODEL_TAG}{name})")
            for dag_id in dags:
                airflow.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": request.paused}).raise_for_status()
            return {"model_name": name, "paused": request.paused, "dags": _dags(airflow, name)}

    @app.exception_handler(httpx.HTTPError)
    def unreachable(request: Request, exc: httpx.HTTPError) -> Any:
        from fastapi.responses import JSONResponse

        where = getattr(getattr(exc, "request", None), "url", None)
        host = f"{where.scheme}://{where.host}:{where.port}" if where is not None else "a service"
        return JSONResponse({"detail": f"{host} did not answer as expected ({type(exc).__name__})"}, 502)

    return app


# -- Reading the registry and the targets ---------------------------------------------------------------------------


def _all_models(client: Any) -> list[Any]:
    found, token = [], None
    while True:
        page = client.search_registered_models(max_results=100, page_token=token)
        found += list(page)
        token = page.token
        if not token:
            return sorted(found, key=lambda m: m.name)


def _split(versions: list[Any], champion: str | None, canary: str | None) -> list[tuple[str, str, int]]:
    """(version, role, traffic) of what should serve: the champion, and the canary at its recorded share."""
    if canary is None or canary == champion:
        return [(champion, "champion", 100)] if champion else []
    tags = next((v.tags or {} for v in versions if str(v.version) == canary), {})
    share = int(tags.get(TAG_PREFIX + "canary_traffic", "0") or 0)
    if champion is None:
        return [(canary, "canary", 100)]
    return [(champion, "champion", 100 - share), (canary, "canary", share)]


def _served(target: Any, name: str, version: str, role: str, traffic: int) -> ServedVersion:
    state = target.version_state(name, version)
    return ServedVersion(version=version, role=role, traffic=traffic, **state)


def _last_decision(versions: list[Any]) -> Decision | None:
    """The newest decision on any version: promoted, canary, rejected, finalized, rolled back, judged."""
    newest: tuple[str, Decision] | None = None
    for v in versions:
        tags = {k.removeprefix(TAG_PREFIX): val for k, val in (v.tags or {}).items() if k.startswith(TAG_PREFIX)}
        if "decision" not in tags:
            continue
        times = [tags[k] for k in tags if k.endswith("_at")]
        at = max(times) if times else None
        reasons = _reasons(tags)
        decision = Decision(version=str(v.version), decision=tags["decision"], at=at, reasons=reasons)
        if newest is None or (at or "") > newest[0]:
            newest = (at or "", decision)
    return newest[1] if newest else None


def _reasons(tags: dict[str, str]) -> list[str]:
    reasons: list[str] = []
    with contextlib.suppress(ValueError, TypeError):
        reasons = [str(r) for r in json.loads(tags.get("reasons", "[]"))]
    if tags.get("decision") == "canary":
        reasons.append(f"canary at {tags.get('canary_traffic', '?')}% of traffic since {tags.get('canary_started_at')}")
    if "rollback_reason" in tags:
        reasons.append(f"rolled back: {tags['rollback_reason']}")
    if "judgement" in tags:
        with contextlib.suppress(ValueError, TypeError):
            judgement = json.loads(tags["judgement"])
            reasons += [str(r) for r in judgement.get("reasons", [])]
    return reasons


def _quote(name: str) -> str:
    return name.replace("'", "\\'")


@contextlib.contextmanager
def _airflow(settings: ApiSettings) -> Iterator[httpx.Client]:
    """Airflow's REST API as the configured user (a JWT from its token endpoint)."""
    if not (settings.airflow_url and settings.airflow_user and settings.airflow_password):
        raise HTTPException(503, NO_AIRFLOW)
    base = settings.airflow_url.rstrip("/")
    password = settings.airflow_password.get_secret_value()
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/auth/token", json={"username": settings.airflow_user, "password": password})
        token.raise_for_status()
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client


def _dags(airflow: httpx.Client, name: str) -> list[dict[str, Any]]:
    """The DAGs tagged as retraining `name`, and whether each is paused."""
    found = airflow.get("/api/v2/dags", params={"tags": f"{MODEL_TAG}{name}", "limit": 100})
    found.raise_for_status()
    return [{"dag_id": d["dag_id"], "paused": d["is_paused"]} for d in found.json()["dags"]]


def _retraining(settings: ApiSettings, name: str) -> list[dict[str, Any]]:
    if not settings.airflow_url:
        return []
    with _airflow(settings) as airflow:
        return _dags(airflow, name)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="mlp-models-api", description=__doc__.split("\n")[0] if __doc__ else "")
    parser.add_argument("--openapi", action="store_true", help="print the OpenAPI document and exit")
    args = parser.parse_args(argv)
    settings = ApiSettings()
    app = create_app(settings)
    if args.openapi:
        print(json.dumps(app.openapi(), indent=2, sort_keys=True))
        return
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
