"""The platform as local processes: start in dependency order, wait for readiness, stop cleanly."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from mlplatform.config import Settings, setting_env_name
from mlplatform.console import console
from mlplatform.errors import PlatformError, PortInUse, ServiceFailed
from mlplatform.polling import poll
from mlplatform.runtime import services
from mlplatform.runtime.service import Service
from mlplatform.runtime.supervisor import Supervisor
from mlplatform.tools import Toolchain

FAILED_STATES = {"FATAL", "EXITED", "BACKOFF", "STOPPED", "UNKNOWN"}


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str
    ready: bool
    pid: int
    endpoints: list[str]
    log: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class LocalPlatform:
    """The platform's services under one supervisord; `mlplatform.cluster` reuses it for the control plane."""

    #: The CLI command group that drives these services, for the fixes that messages name.
    command = "mlp"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: list[Service] = services.build(settings)
        self.supervisor = Supervisor(settings, self.services)

    @property
    def names(self) -> list[str]:
        return [service.name for service in self.services]

    def select(self, names: Iterable[str] | None) -> list[Service]:
        wanted = set(names or self.names)
        unknown = wanted - set(self.names)
        if unknown:
            raise ServiceFailed(f"Unknown service(s) {sorted(unknown)}; known: {', '.join(self.names)}")
        return [service for service in self.services if service.name in wanted]

    # -- up ---------------------------------------------------------------------------------------
    def up(self, names: Iterable[str] | None = None) -> None:
        self.check_tools()
        chosen = self.select(names)
        running = {s.name for s in chosen if self.supervisor.info(s.name)["statename"] == "RUNNING"}
        self.check_ports([s for s in chosen if s.name not in running])
        self.prepare_instance()
        self.supervisor.ensure_running()
        # supervisord stops a running program whose configuration changed (an upgrade): start it again.
        running = {name for name in running if self.supervisor.info(name)["statename"] == "RUNNING"}
        for group in self.start_groups(chosen):
            self._start(group, running)

    def start_groups(self, chosen: list[Service]) -> list[list[Service]]:
        """Services started together, each group ready before the next: for the platform, one at a time."""
        return [[service] for service in chosen]

    def check_tools(self) -> None:
        Toolchain(self.settings).check()

    def prepare_instance(self) -> None:
        """What all services share and must exist before supervisord starts (nothing, for the platform)."""

    def check_ports(self, chosen: Iterable[Service]) -> None:
        for service in chosen:
            for port in service.ports():
                if not _port_free(self.settings.host, port.number):
                    raise PortInUse(
                        f"Port {port.number} on {self.settings.host} is already in use, so {service.name} "
                        f"cannot listen on it (setting {port.setting}). Stop the program using it, or pick "
                        f"another port: export {setting_env_name(port.setting)}=<free port>"
                    )

    def _start(self, group: list[Service], running: set[str]) -> None:
        started = time.monotonic()
        with console.status(f"Starting {', '.join(service.name for service in group)}…") as status:
            for service in group:
                if service.name not in running:
                    service.prepare()
                    self.supervisor.start(service.name)
            deadline = started + self.settings.ready_timeout
            for service in group:
                self._wait_ready(service, deadline - time.monotonic(), status.update, started)
                service.initialize()
                verb = "already running" if service.name in running else f"ready in {time.monotonic() - started:.1f}s"
                console.print(f"[green]✔[/] {service.name} {verb}")

    def _wait_ready(self, service: Service, timeout: float, show: Callable[[str], None], started: float) -> None:
        def state() -> str | None:
            """None once ready, else supervisord's state for it; a failed state ends the wait at once."""
            if service.is_ready():
                return None
            current = str(self.supervisor.info(service.name)["statename"])
            if current in FAILED_STATES:
                raise ServiceFailed(self._failure(service, current))
            show(f"Waiting for {service.name} ({current.lower()}, {time.monotonic() - started:.0f}s)…")
            return current

        poll(
            state,
            until=lambda current: current is None,
            timeout=timeout,
            interval=0.5,
            error=lambda current: ServiceFailed(self._failure(service, str(current))),
        )

    def _failure(self, service: Service, state: str) -> str:
        tail = ""
        if service.log_file.exists():
            tail = "\n".join(service.log_file.read_text(errors="replace").splitlines()[-25:])
        return (
            f"{service.name} did not become ready (state {state}, timeout {self.settings.ready_timeout:.0f}s).\n"
            f"Last lines of {service.log_file}:\n{tail}\n"
            f"Fix the cause, then run `{self.command} up` again; `{self.command} logs {service.name}` shows the "
            "whole log."
        )

    # -- down -------------------------------------------------------------------------------------
    def down(self) -> list[str]:
        """Stop every service in reverse order, then supervisord; returns what had to be killed."""
        if self.supervisor.is_running():
            for service in reversed(self.services):
                with console.status(f"Stopping {service.name}…"):
                    self.supervisor.stop(service.name)
                console.print(f"[green]✔[/] {service.name} stopped")
            self.supervisor.shutdown()
        killed = []
        for process in self.supervisor.leftover_processes():
            killed.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
            process.kill()
        return killed

    # -- status -----------------------------------------------------------------------------------
    def status(self) -> list[ServiceStatus]:
        result = []
        for service in self.services:
            info = self.supervisor.info(service.name)
            ready = info["statename"] == "RUNNING" and service.is_ready()
            result.append(
                ServiceStatus(
                    name=service.name,
                    state=info["statename"],
                    ready=ready,
                    pid=int(info.get("pid") or 0),
                    endpoints=[e.url for e in service.endpoints()],
                    log=str(service.log_file),
                )
            )
        return result


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def show_log(logs_dir: Path, name: str, known: Sequence[str], starter: str, lines: int, follow: bool) -> None:
    """Print the end of one process's log (`mlp logs`, `mlp cluster logs`), or name the choices."""
    if name not in (*known, "supervisord"):
        raise PlatformError(f"Unknown name '{name}'; choose one of {', '.join(known)}, supervisord.")
    path = logs_dir / f"{name}.log"
    if not path.exists():
        raise PlatformError(f"No log yet at {path}: has `{starter}` started {name}?")
    subprocess.run(["tail", f"-n{lines}", *(["-F"] if follow else []), str(path)], check=False)
