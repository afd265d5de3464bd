"""Fixtures for promotion tests: an MLServer for the local target (the tracking server is tests/conftest.py's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from mlplatform.config import Settings

from tests.conftest import free_ports
from tests.promotion.helpers import MLSERVER_ENV


@dataclass(frozen=True)
class ModelServer:
    url: str
    repository: Path

    def env(self) -> dict[str, str]:
        """How the promoter's local target finds this server."""
        return {"MLP_PROMOTER_SERVER_URL": self.url, "MLP_PROMOTER_MODEL_REPOSITORY": str(self.repository)}


@pytest.fixture(scope="session")
def model_server(platform: Settings) -> Iterator[ModelServer]:
    """The platform's model server once `mlp` runs one; until then, one started like it, for this session."""
    if hasattr(platform, "model_server"):
        # ModelServer.repository (runtime/services/model_server.py), where `mlp up` serves from.
        repository = platform.data_dir / "model-server" / "models"
        yield ModelServer(f"http://{platform.host}:{platform.model_server.port}", repository)
        return
    http, grpc, metrics = free_ports(3)
    repository = Path(tempfile.mkdtemp(prefix="mlp-model-repo-", dir=os.environ.get("MLP_TEST_ROOT", "/var/tmp")))
    log = (repository.parent / f"{repository.name}.log").open("w")
    env = {
        **os.environ,
        # The same variables as runtime/services/model_server.py gives the server.
        "MLSERVER_HOST": platform.host,
        "MLSERVER_HTTP_PORT": str(http),
        "MLSERVER_GRPC_PORT": str(grpc),
        "MLSERVER_METRICS_PORT": str(metrics),
        "MLSERVER_PARALLEL_WORKERS": "0",
        "MLSERVER_LOAD_MODELS_AT_STARTUP": "true",
        "MLSERVER_DEBUG": "false",
    }
    process = subprocess.Popen(
        [str(MLSERVER_ENV / "bin" / "mlserver"), "start", str(repository)], env=env, stdout=log, stderr=log
    )
    url = f"http://{platform.host}:{http}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"MLServer did not become ready; log: {log.name}")
            time.sleep(0.5)
        yield ModelServer(url, repository)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        if not os.environ.get("MLP_KEEP_TEST_HOME"):
            shutil.rmtree(repository, ignore_errors=True)
            Path(log.name).unlink(missing_ok=True)
