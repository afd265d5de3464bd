"""`mlp cluster`: a local Kubernetes control plane (real API server, etcd, controllers, scheduler; kwok nodes)."""

from __future__ import annotations

import json
import shlex
from typing import Annotated

import typer
from rich.table import Table

from mlplatform.cluster import REAL, SIMULATED, components
from mlplatform.cluster.control_plane import ControlPlane
from mlplatform.cluster.layout import CONTEXT, ClusterLayout
from mlplatform.config import Settings
from mlplatform.console import console, err_console
from mlplatform.runtime.local import show_log

app = typer.Typer(
    help="A Kubernetes control plane on this machine: real API server, etcd, controllers and scheduler; "
    "nodes, pods and volumes simulated by kwok.",
    no_args_is_help=True,
)


@app.command()
def up() -> None:
    """Start etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (idempotent)."""
    plane = ControlPlane(Settings())
    plane.up()
    table = Table(title=f"The local control plane is up (context {CONTEXT})")
    table.add_column("Component")
    table.add_column("Endpoint")
    for service in plane.services:
        for endpoint in service.endpoints():
            table.add_row(endpoint.name, endpoint.url)
    console.print(table)
    console.print(f"Server version: {plane.api.version()}")
    console.print(REAL)
    console.print(f"[yellow]{SIMULATED}[/]")
    console.print(f"Kubeconfig: {plane.layout.kubeconfig}    Logs: {plane.layout.logs}")
    console.print('Use it from a shell: eval "$(mlp cluster env)"; then kubectl get nodes')


@app.command()
def down() -> None:
    """Stop the control plane; its state (etcd data, certificates) stays for the next `up`."""
    killed = ControlPlane(Settings()).down()
    for line in killed:
        err_console.print(f"[yellow]killed leftover process[/] {line}")
    console.print("[green]The local control plane is stopped.[/]")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Each component's state and readiness, the server's version and the simulated nodes."""
    state = ControlPlane(Settings()).cluster_status()
    if as_json:
        typer.echo(json.dumps(state.as_dict(), indent=2))
        return
    table = Table()
    for column in ("Component", "State", "Ready", "PID", "Endpoints"):
        table.add_column(column)
    for row in state.components:
        ready = "[green]yes[/]" if row.ready else "[red]no[/]"
        table.add_row(row.name, row.state, ready, str(row.pid or "-"), "\n".join(row.endpoints))
    console.print(table)
    console.print(f"Server version: {state.server_version or '[red]not answering[/]'}")
    if state.nodes:
        listed = ", ".join(f"{name} ({'Ready' if ready else 'NotReady'})" for name, ready in state.nodes.items())
        console.print(f"Nodes, simulated by kwok: {listed}")
    console.print(f"Kubeconfig: {state.kubeconfig} (context {CONTEXT})")
    console.print(f"[yellow]{SIMULATED}[/]")


@app.command()
def env() -> None:
    """Print `export` lines that point kubectl and Helm at the control plane: eval "$(mlp cluster env)"."""
    for name, value in ClusterLayout(Settings()).client_environment().items():
        typer.echo(f"export {name}={shlex.quote(value)}")


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(components.NAMES)}, or supervisord.")],
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many lines from the end.")] = 100,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines.")] = False,
) -> None:
    """Show a component's log."""
    show_log(ClusterLayout(Settings()).logs, name, components.NAMES, "mlp cluster up", lines, follow)
