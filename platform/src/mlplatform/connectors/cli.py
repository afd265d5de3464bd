"""`mlp connectors`: validate, apply, inspect and export the connector definitions in a folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr
from rich.table import Table

from mlplatform.config import Settings
from mlplatform.connectors import operations
from mlplatform.connectors.client import ConnectClient
from mlplatform.connectors.definitions import Located, load_definitions
from mlplatform.connectors.export import kafka_connectors, to_yaml
from mlplatform.console import console
from mlplatform.errors import PlatformError
from mlplatform.tools import PROJECT_ROOT

app = typer.Typer(help="Kafka Connect connectors as code, over Connect's REST API.", no_args_is_help=True)

Url = Annotated[str | None, typer.Option("--url", help="Connect REST URL [setting connect.url; default: local].")]
User = Annotated[str | None, typer.Option("--user", help="Basic-auth user [setting connect.username].")]
Password = Annotated[
    str | None,
    typer.Option("--password", help="Basic-auth password; prefer MLP_CONNECT__PASSWORD.", show_default=False),
]
CaCert = Annotated[Path | None, typer.Option("--ca-cert", help="CA bundle to verify Connect's TLS certificate.")]
Insecure = Annotated[bool, typer.Option("--insecure", help="Do not verify TLS certificates.")]
Folder = Annotated[Path, typer.Option("--dir", help="Folder of connector definitions.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
DEFAULT_DIR = PROJECT_ROOT / "connectors"


@app.callback()
def connection(
    ctx: typer.Context,
    url: Url = None,
    user: User = None,
    password: Password = None,
    ca_cert: CaCert = None,
    insecure: Insecure = False,
) -> None:
    """Where Connect is: the options go before the command, e.g. `mlp connectors --url URL status`."""
    connect, host = (settings := Settings()).connect, settings.host
    ctx.obj = lambda: ConnectClient(
        url or connect.url or f"http://{host}:{connect.port}",
        user or connect.username,
        SecretStr(password) if password else connect.password,
        ca_cert or connect.ca_cert,
        insecure,
    )


def _client(ctx: typer.Context) -> ConnectClient:
    client: ConnectClient = ctx.obj()
    return client


def _emit(as_json: bool, payload: Any) -> None:
    if as_json:
        typer.echo(json.dumps(payload, indent=2))


def _validated(client: ConnectClient, folder: Path) -> list[Located]:
    definitions = load_definitions(folder)
    with console.status(f"Validating {len(definitions)} definition(s) with Connect…"):
        errors = operations.validate(client, definitions)
    operations.require_valid(errors)
    return definitions


@app.command()
def validate(
    ctx: typer.Context,
    folder: Folder = DEFAULT_DIR,
) -> None:
    """Check every definition with Connect's own validation; nothing is applied."""
    definitions = _validated(_client(ctx), folder)
    console.print(f"[green]✔[/] {len(definitions)} definition(s) valid")


@app.command()
def apply(
    ctx: typer.Context,
    folder: Folder = DEFAULT_DIR,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="Delete connectors that have no definition.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for connectors and tasks to run.")] = 120.0,
    as_json: AsJson = False,
) -> None:
    """Create or update every connector in the folder (idempotent), then wait until they run."""
    client = _client(ctx)
    definitions = load_definitions(folder)
    with console.status(f"Checking {len(definitions)} definition(s) against Connect…"):
        changes = operations.checked_plan(client, definitions, prune)
    if not as_json:
        _print_changes(changes)
    if dry_run:
        _emit(as_json, {"dry_run": True, "changes": [c.as_dict() for c in changes]})
        return
    operations.execute(client, changes)
    touched = [c.name for c in changes if c.action in ("create", "update", "unchanged")]
    with console.status("Waiting for connectors and tasks to run…"):
        outcomes = operations.wait_running(client, touched, timeout)
    _emit(
        as_json,
        {
            "dry_run": False,
            "changes": [c.as_dict() for c in changes],
            "outcomes": [{"name": o.name, "state": o.state, "tasks": o.tasks, "error": o.error} for o in outcomes],
        },
    )
    failed = [o for o in outcomes if o.failed]
    for outcome in failed:
        console.print(f"[red]✘[/] {outcome.name}: {outcome.error}")
    if failed:
        raise PlatformError(f"{len(failed)} connector(s) not running; `mlp connectors status` shows them.")
    if not as_json:
        console.print(f"[green]✔[/] {len(outcomes)} connector(s) running")


def _print_changes(changes: list[operations.Change]) -> None:
    style = {"create": "green", "update": "yellow", "delete": "red", "unchanged": "dim"}
    for change in changes:
        console.print(f"[{style[change.action]}]{change.action:>9}[/] {change.name}")
        for row in change.as_dict()["diff"]:
            if row["old"] is not None:
                console.print(f"            [red]- {row['key']}={row['old']}[/]")
            if row["new"] is not None:
                console.print(f"            [green]+ {row['key']}={row['new']}[/]")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: AsJson = False,
) -> None:
    """Names of the connectors Connect runs."""
    names = _client(ctx).connectors()
    if as_json:
        _emit(True, names)
    else:
        for name in names:
            console.print(name)


@app.command()
def status(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(help="Connectors (default: all).")] = None,
    as_json: AsJson = False,
) -> None:
    """State of each connector and its tasks, with the first line of any failure's trace."""
    client = _client(ctx)
    outcomes = [operations.outcome_of(client, name) for name in (names or client.connectors())]
    if as_json:
        _emit(True, [{"name": o.name, "state": o.state, "tasks": o.tasks, "error": o.error} for o in outcomes])
        return
    table = Table()
    for column in ("Connector", "State", "Tasks", "Error"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(o.name, o.state, ", ".join(o.tasks) or "-", o.error or "")
    console.print(table)
    if any(o.failed for o in outcomes):
        raise typer.Exit(1)


@app.command()
def restart(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(help="Connectors (default: all).")] = None,
    all_tasks: Annotated[bool, typer.Option("--all-tasks", help="Restart running tasks too.")] = False,
) -> None:
    """Restart connectors' failed tasks (all tasks with --all-tasks)."""
    client = _client(ctx)
    for name in names or client.connectors():
        client.restart(name, only_failed=not all_tasks)
        console.print(f"[green]✔[/] restarted {name} ({'all' if all_tasks else 'failed'} tasks)")


@app.command()
def delete(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(help="Connectors to delete.")],
) -> None:
    """Delete connectors (their topics and offsets stay)."""
    client = _client(ctx)
    for name in names:
        client.delete(name)
        console.print(f"[green]✔[/] deleted {name}")


@app.command()
def export(
    folder: Folder = DEFAULT_DIR,
    cluster: Annotated[str, typer.Option(help="Name of the Strimzi KafkaConnect cluster.")] = "mlp-connect",
    namespace: Annotated[str | None, typer.Option(help="Namespace of the resources.")] = None,
) -> None:
    """Print the definitions as Strimzi KafkaConnector resources (YAML)."""
    typer.echo(to_yaml(kafka_connectors(load_definitions(folder), cluster, namespace)), nl=False)
