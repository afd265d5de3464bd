"""`mlp`: set up, run and inspect the platform."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
from typing import TYPE_CHECKING, Annotated

import typer
from typer._click import Command, Context  # the click Typer vendors, whose group this extends
from typer.core import TyperGroup

from mlplatform.config import Settings
from mlplatform.console import console, err_console
from mlplatform.errors import PlatformError

if TYPE_CHECKING:
    from mlplatform.runtime.local import LocalPlatform

#: Command groups, each imported only when it runs (with its help, for `mlp --help`): the local platform's and the
#: cluster's modules take seconds to import, which a no-op `mlp connectors apply` must not pay for.
GROUPS = {
    "connectors": "mlplatform.connectors.cli",
    "cluster": "mlplatform.cluster.cli",
    "kafka": "mlplatform.kafka_tools.cli",
    "predict": "mlplatform.predict",
    "models": "mlplatform.models_cli",
}


class _Groups(TyperGroup):
    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *GROUPS]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in GROUPS:
            return super().get_command(ctx, cmd_name)
        command = typer.main.get_command(importlib.import_module(GROUPS[cmd_name]).app)
        command.name = cmd_name
        return command


app = typer.Typer(
    cls=_Groups,
    help=(
        "The ML platform on one machine: setup, up, down, status, logs; connectors: Kafka Connect as code; kafka: "
        "Kafka's own tools; models: registered models and their serving; predict: batch predictions over files; "
        "cluster: a local Kubernetes control plane."
    ),
    no_args_is_help=True,
)

ServiceNames = Annotated[
    list[str] | None,
    typer.Argument(help="Services to act on (default: all; `mlp status` lists them)."),
]


def _platform() -> LocalPlatform:
    from mlplatform.runtime.local import LocalPlatform

    return LocalPlatform(Settings())


@app.command()
def setup() -> None:
    """Install the tools and environments the platform needs (idempotent; cached)."""
    from mlplatform.tools import Installer

    Installer(Settings()).install_all()


@app.command()
def up(names: ServiceNames = None) -> None:
    """Start the platform's services in dependency order, each waiting for readiness."""
    from rich.table import Table

    from mlplatform.credentials import Credentials

    platform = _platform()
    platform.up(names)
    table = Table(title="The platform is up")
    table.add_column("Service")
    table.add_column("Endpoint")
    for service in platform.select(names):
        for endpoint in service.endpoints():
            table.add_row(endpoint.name, endpoint.url)
    console.print(table)
    settings = platform.settings
    console.print(f"Credentials: files in {Credentials(settings).location} (readable only by you)")
    console.print(f"Logs: {settings.logs_dir}    Data: {settings.data_dir}")


@app.command()
def down() -> None:
    """Stop every service cleanly; data stays for the next `up`."""
    killed = _platform().down()
    for line in killed:
        err_console.print(f"[yellow]killed leftover process[/] {line}")
    console.print("[green]All services stopped.[/]")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Each service's process state and readiness."""
    from rich.table import Table

    rows = _platform().status()
    if as_json:
        typer.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    table = Table()
    for column in ("Service", "State", "Ready", "PID", "Endpoints"):
        table.add_column(column)
    for row in rows:
        ready = "[green]yes[/]" if row.ready else "[red]no[/]"
        table.add_row(row.name, row.state, ready, str(row.pid or "-"), "\n".join(row.endpoints))
    console.print(table)


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help="A service (`mlp status` lists them), or supervisord.")],
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many lines from the end.")] = 100,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines.")] = False,
) -> None:
    """Show a service's log."""
    from mlplatform.runtime import services
    from mlplatform.runtime.local import show_log

    show_log(Settings().logs_dir, name, services.NAMES, "mlp up", lines, follow)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)
def recipes(ctx: typer.Context) -> None:
    """Pipeline recipes: `validate`, `dag-files`, `show NAME` (the DAG it becomes), `gate NAME` (data check now)."""
    from mlplatform.runtime import services
    from mlplatform.tools import Toolchain

    settings = Settings()
    python = Toolchain(settings).python_env("pipelines") / "bin" / "python"
    # The pipelines' own settings for this machine's platform (warehouse, MLflow, Prometheus).
    env = {**os.environ, **services.get(settings, "airflow").environment()}
    result = subprocess.run([str(python), "-m", "mlpipelines.cli", *(ctx.args or ["--help"])], env=env, check=False)
    raise typer.Exit(result.returncode)


@app.command()
def demo() -> None:
    """The main job end to end: data in, features, pipeline (train, promote), serving, predictions."""
    from mlplatform.demo import Demo

    Demo(Settings()).run()


def main() -> None:
    try:
        app()
    except PlatformError as error:
        err_console.print(f"[red]Error:[/] {error}")
        raise SystemExit(1) from None
