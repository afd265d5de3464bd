"""What every local service is: how it is prepared, launched, probed and initialised.

supervisord owns the processes; a `Service` only describes one. Each concrete service lives in
`runtime/services/<name>.py`, and `runtime.services.ALL` lists them in start order.
"""

from __future__ import annotations

import abc
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import httpx

from mlplatform.config import Settings
from mlplatform.credentials import Credentials
from mlplatform.tools import Toolchain


@dataclass(frozen=True)
class Port:
    """A port a service listens on, with the setting that moves it."""

    setting: str  # dotted path in Settings, e.g. "kafka.port"
    number: int


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str


class Service(abc.ABC):
    name: str
    #: Signal for a clean stop (PostgreSQL wants SIGINT for its "fast" shutdown).
    stop_signal: str = "TERM"
    #: Seconds a clean stop may take before supervisord kills the process.
    stop_timeout: int = 60

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tools = Toolchain(settings)
        self.credentials = Credentials(settings)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir / self.name

    @property
    def run_dir(self) -> Path:
        return self.settings.run_dir / self.name

    @property
    def log_file(self) -> Path:
        return self.settings.logs_dir / f"{self.name}.log"

    @abc.abstractmethod
    def ports(self) -> list[Port]: ...

    def prepare(self) -> None:
        """Write config files and initialise storage; runs before every start and must be idempotent."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)

    @abc.abstractmethod
    def argv(self) -> list[str]: ...

    def environment(self) -> dict[str, str]:
        """Variables added for the process, secrets included: they reach it only through exec."""
        return {}

    def os_user(self) -> str | None:
        """The account to run as, when it must differ from mlp's."""
        return None

    @abc.abstractmethod
    def is_ready(self) -> bool: ...

    def initialize(self) -> None:
        """Create what the platform needs inside the running service (databases, buckets)."""

    @abc.abstractmethod
    def endpoints(self) -> list[Endpoint]: ...

    # -- helpers for probes ---------------------------------------------------------------------
    def url(self, port: int, path: str = "") -> str:
        return f"http://{self.settings.host}:{port}{path}"

    def http_ok(self, port: int, path: str) -> bool:
        try:
            # trust_env=False: a probe of this machine's own port must not go through a proxy from the environment.
            return httpx.get(self.url(port, path), timeout=2.0, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def tcp_open(self, port: int) -> bool:
        try:
            with socket.create_connection((self.settings.host, port), timeout=1.0):
                return True
        except OSError:
            return False


def write_if_changed(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    os.chmod(path, mode)
