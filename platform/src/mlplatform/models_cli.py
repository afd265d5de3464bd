"""`mlp models`: the registered models and their serving state, and the promoter's actions, through the model
management API (`mlp-models-api`, the `models-api` service), so the CLI shows exactly what the API serves.

Every command has `--json`, the API's own response.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from mlplatform.config import Settings
from mlplatform.console import console
from mlplatform.credentials import Credentials
from mlplatform.errors import PlatformError

app = typer.Typer(
    help="Registered models: list, show, promote, finalize, rollback, pause and resume retraining.",
    no_args_is_help=True,
)
AsJson = Annotated[bool, typer.Option("--json", help="The API's response as JSON.")]
Name = Annotated[str, typer.Argument(help="The registered model.", show_default=False)]


def api_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.models_api.port}"


def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One API call; its error detail becomes the command's error."""
    from mlplatform.runtime.services.models_api import TOKEN

    settings = Settings()
    headers = {}
    if settings.models_api.require_token:
        headers["Authorization"] = f"Bearer {Credentials(settings).generated(TOKEN).get_secret_value()}"
    url = api_url(settings)
    try:
        response = httpx.request(method, url + path, json=body, headers=headers, timeout=600, trust_env=False)
    except httpx.TransportError:
        raise PlatformError(
            f"the model management API is not answering at {url}: start it with `mlp up models-api`"
        ) from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise PlatformError(f"{method} {path}: HTTP {response.status_code}: {detail}")
    return response.json()


def _print(data: Any, as_json: bool) -> bool:
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    return as_json


def _traffic(model: dict[str, Any]) -> str:
    return ", ".join(f"v{s['version']} {s['traffic']}%" for s in model["served"]) or "-"


def _decision(model: dict[str, Any]) -> str:
    last = model.get("last_decision")
    return f"{last['decision']} (v{last['version']})" if last else "-"


@app.command("list")
def list_models(as_json: AsJson = False) -> None:
    """Every registered model: champion, canary, traffic split, health and the last decision."""
    models = call("GET", "/models")
    if _print(models, as_json):
        return
    table = Table(title=f"Models ({api_url(Settings())}/docs)")
    for column in ("Model", "Champion", "Canary", "Traffic", "Healthy", "Last decision"):
        table.add_column(column)
    for m in models:
        healthy = "[green]yes[/]" if m["healthy"] else ("[red]no[/]" if m["served"] else "-")
        table.add_row(m["name"], m["champion"] or "-", m["canary"] or "-", _traffic(m), healthy, _decision(m))
    console.print(table)


@app.command()
def show(name: Name, as_json: AsJson = False) -> None:
    """One model: where each version serves (endpoint, V2 docs), its versions, decisions and retraining DAGs."""
    model = call("GET", f"/models/{name}")
    if _print(model, as_json):
        return
    served = Table(title=f"{name}: serving")
    for column in ("Version", "Role", "Traffic", "Ready", "State", "Endpoint", "Docs"):
        served.add_column(column)
    for s in model["served"]:
        ready = "[green]yes[/]" if s["ready"] else "[red]no[/]"
        served.add_row(s["version"], s["role"], f"{s['traffic']}%", ready, s["state"], s["endpoint"], s["docs"])
    console.print(served)
    versions = Table(title=f"{name}: versions")
    for column in ("Version", "Aliases", "Status", "Decision", "Run"):
        versions.add_column(column)
    for v in model["versions"]:
        versions.add_row(v["version"], ", ".join(v["aliases"]) or "-", v["status"], v["decision"] or "-", v["run_id"])
    console.print(versions)
    last = model.get("last_decision")
    if last:
        console.print(f"Last decision: [bold]{last['decision']}[/] of version {last['version']} at {last['at']}")
        for reason in last["reasons"]:
            console.print(f"  - {reason}")
    for dag in model["retraining"]:
        console.print(f"Retraining DAG {dag['dag_id']}: {'paused' if dag['paused'] else 'active'}")


def _report(result: dict[str, Any], as_json: bool) -> None:
    if _print(result, as_json):
        return
    what = f"{result.get('model_name', '')} {result.get('version', '')}"
    console.print(f"[bold]{result.get('decision', 'done')}[/] {what}")
    for reason in result.get("reasons", []):
        console.print(f"  - {reason}")


@app.command()
def promote(
    name: Name,
    experiment: Annotated[str, typer.Option(help="The MLflow experiment whose runs compete.")],
    policy: Annotated[str, typer.Option(help="The promotion policy as JSON, or @FILE (JSON).")],
    compare: Annotated[str, typer.Option(help="offline, or live: the newest run challenges as a canary.")] = "offline",
    as_json: AsJson = False,
) -> None:
    """Promote the best run of an experiment by a policy, as a recipe's promote step does."""
    text = open(policy[1:]).read() if policy.startswith("@") else policy  # noqa: SIM115
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise PlatformError(f"--policy is not JSON ({exc}): give a recipe's `promotion:` section as JSON") from None
    body = {"experiment": experiment, "policy": parsed, "compare": compare}
    _report(call("POST", f"/models/{name}/promote", body), as_json)


@app.command()
def finalize(name: Name, as_json: AsJson = False) -> None:
    """The canary takes all traffic and becomes the champion."""
    _report(call("POST", f"/models/{name}/finalize"), as_json)


@app.command()
def rollback(
    name: Name,
    reason: Annotated[str, typer.Option(help="Recorded on the version.")] = "rolled back with `mlp models rollback`",
    as_json: AsJson = False,
) -> None:
    """Withdraw the canary; the champion serves all traffic."""
    _report(call("POST", f"/models/{name}/rollback", {"reason": reason}), as_json)


def _retraining(name: str, paused: bool, as_json: bool) -> None:
    result = call("POST", f"/models/{name}/retraining", {"paused": paused})
    if _print(result, as_json):
        return
    for dag in result["dags"]:
        console.print(f"{dag['dag_id']}: {'paused' if dag['paused'] else 'active'}")


@app.command()
def pause(name: Name, as_json: AsJson = False) -> None:
    """Pause every DAG that retrains the model (schedule, new data, signal and drift)."""
    _retraining(name, True, as_json)


@app.command()
def resume(name: Name, as_json: AsJson = False) -> None:
    """Resume the DAGs that retrain the model."""
    _retraining(name, False, as_json)
