"""`mlp`: set up, run and inspect the platform."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Annotated

import typer
from rich.table import Table

from mlplatform.cluster.cli import app as cluster_app
from mlplatform.config import Settings
from mlplatform.connectors.cli import app as connectors_app
from mlplatform.console import console, err_console
from mlplatform.credentials import Credentials
from mlplatform.demo import Demo
from mlplatform.errors import PlatformError
from mlplatform.runtime import services
from mlplatform.runtime.local import LocalPlatform, show_log
from mlplatform.tools import Installer, Toolchain

app = typer.Typer(
    help="The ML platform on one machine: setup, up, down, status, logs; cluster: a local Kubernetes control plane.",
    no_args_is_help=True,
)
app.add_typer(connectors_app, name="connectors")
app.add_typer(cluster_app, name="cluster")

ServiceNames = Annotated[
    list[str] | None,
    typer.Argument(help=f"Services to act on (default: all of {', '.join(services.NAMES)})."),
]


def _platform() -> LocalPlatform:
    return LocalPlatform(Settings())


@app.command()
def setup() -> None:
    """Install the tools and environments the platform needs (idempotent; cached)."""
    Installer(Settings()).install_all()


@app.command()
def up(names: ServiceNames = None) -> None:
    """Start the platform's services in dependency order, each waiting for readiness."""
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
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(services.NAMES)}, or supervisord.")],
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many lines from the end.")] = 100,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines.")] = False,
) -> None:
    """Show a service's log."""
    show_log(Settings().logs_dir, name, services.NAMES, "mlp up", lines, follow)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)
def recipes(ctx: typer.Context) -> None:
    """Pipeline recipes: `validate`, `dag-files`, `show NAME` (the DAG it becomes), `gate NAME` (data check now)."""
    settings = Settings()
    python = Toolchain(settings).python_env("pipelines") / "bin" / "python"
    # The pipelines' own settings for this machine's platform (warehouse, MLflow, Prometheus).
    env = {**os.environ, **services.get(settings, "airflow").environment()}
    result = subprocess.run([str(python), "-m", "mlpipelines.cli", *(ctx.args or ["--help"])], env=env, check=False)
    raise typer.Exit(result.returncode)


@app.command()
def demo() -> None:
    """The main job end to end: data in, features, pipeline (train, promote), serving, predictions."""
    settings = Settings()
    Demo(settings).run()


def main() -> None:
    try:
        app()
    except PlatformError as error:
        err_console.print(f"[red]Error:[/] {error}")
        raise SystemExit(1) from None
