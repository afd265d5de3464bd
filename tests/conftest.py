"""Session-wide fixtures: one real platform instance, isolated from a user's own, for all tests.

The instance gets its own home folder and free ports, and is started and stopped through the real
`mlp` CLI, exactly as a user runs it; the tool cache is shared with the user's (it is read-only here).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlplatform.config import Settings
from mlplatform.credentials import Credentials

MLP = str(Path(sys.executable).parent / "mlp")
PORT_SETTINGS = (
    "POSTGRES__PORT",
    "MINIO__PORT",
    "MINIO__CONSOLE_PORT",
    "KAFKA__PORT",
    "KAFKA__CONTROLLER_PORT",
    "KAFKA__METRICS_PORT",
    "CONNECT__PORT",
    "CONNECT__METRICS_PORT",
    "MLFLOW__PORT",
    "PROMETHEUS__PORT",
)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def run_mlp(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [MLP, *args],
        env=env or os.environ.copy(),
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"mlp {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def isolated_environment() -> dict[str, str]:
    """MLP_* variables for a fresh instance: its own home (traversable by the postgres account) and ports."""
    home = Path(tempfile.mkdtemp(prefix="mlp-test-", dir=os.environ.get("MLP_TEST_ROOT", "/var/tmp")))
    home.chmod(0o755)
    env = {"MLP_HOME": str(home), "MLP_PROMETHEUS__SCRAPE_INTERVAL": "2s"}
    env.update(
        {f"MLP_{name}": str(port) for name, port in zip(PORT_SETTINGS, free_ports(len(PORT_SETTINGS)), strict=True)}
    )
    return env


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    """Settings of the test instance; its variables are exported so `mlp` subprocesses see them too."""
    saved = os.environ.copy()
    os.environ.update(isolated_environment())
    current = Settings()
    yield current
    os.environ.clear()
    os.environ.update(saved)
    if not os.environ.get("MLP_KEEP_TEST_HOME"):
        shutil.rmtree(current.home, ignore_errors=True)


@pytest.fixture(scope="session")
def platform(settings: Settings) -> Iterator[Settings]:
    """The running platform: `mlp up` before the first test that needs it, `mlp down` at the end."""
    try:
        run_mlp("up")
        yield settings
    finally:
        run_mlp("down", check=False)


@pytest.fixture(scope="session")
def credentials(platform: Settings) -> Credentials:
    return Credentials(platform)
