"""Fixtures for promotion tests: an MLServer for the local target (the tracking server is tests/conftest.py's)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from mlplatform.config import Settings


@dataclass(frozen=True)
class ModelServer:
    url: str
    repository: Path

    def env(self) -> dict[str, str]:
        """How the promoter's local target finds this server."""
        return {"MLP_PROMOTER_SERVER_URL": self.url, "MLP_PROMOTER_MODEL_REPOSITORY": str(self.repository)}


@pytest.fixture(scope="session")
def model_server(platform: Settings) -> ModelServer:
    """The platform's model server, where the promoter's local target serves (runtime/services/model_server.py)."""
    return ModelServer(
        f"http://{platform.host}:{platform.model_server.port}", platform.data_dir / "model-server" / "models"
    )
