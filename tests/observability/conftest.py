"""Fixtures of the observability tests: promtool and the platform's Prometheus."""

from __future__ import annotations

import shutil

import pytest
from mlplatform.config import Settings


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.skip("promtool is not installed: `make setup` installs the Debian package prometheus")
    return found


@pytest.fixture(scope="session")
def prometheus_url(platform: Settings) -> str:
    return f"http://{platform.host}:{platform.prometheus.port}"
