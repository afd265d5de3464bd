"""A throwaway platform instance for benchmarks: its own home and free ports, stopped at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from mlplatform.config import Settings
from mlplatform.isolation import isolated_environment

MLP = str(Path(sys.executable).parent / "mlp")


@contextlib.contextmanager
def isolated_platform(*services: str) -> Iterator[Settings]:
    """Start `services` (all when none) of a fresh instance; exported so `mlp` subprocesses see it."""
    env = isolated_environment()
    home = Path(env["MLP_HOME"])
    saved = os.environ.copy()
    os.environ.update(env)
    try:
        subprocess.run([MLP, "up", *services], check=True, stdout=subprocess.DEVNULL)
        yield Settings()
    finally:
        subprocess.run([MLP, "down"], check=False, stdout=subprocess.DEVNULL)
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(home, ignore_errors=True)
