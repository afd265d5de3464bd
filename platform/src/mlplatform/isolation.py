"""A separate platform instance beside a user's own: its own home folder and free ports.

The tests and the benchmarks use it, so neither touches a running platform nor collides with it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from pathlib import Path

from mlplatform.config import port_settings, setting_env_name


def free_ports(count: int) -> list[int]:
    """Distinct ports free right now (held together while chosen, so none repeats)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def isolated_environment(root: str | None = None) -> dict[str, str]:
    """MLP_* variables of a fresh instance. Its home is traversable by PostgreSQL's account when mlp is root."""
    home = Path(tempfile.mkdtemp(prefix="mlp-", dir=root or os.environ.get("MLP_ISOLATED_ROOT", "/var/tmp")))
    home.chmod(0o755)
    names = port_settings()
    env = {"MLP_HOME": str(home)}
    env.update({setting_env_name(name): str(port) for name, port in zip(names, free_ports(len(names)), strict=True)})
    return env
