"""Fixtures of the observability tests: promtool, the platform's Prometheus, the `live_panels` marker."""

from __future__ import annotations

import shutil

import pytest
from mlplatform.config import Settings


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "live_panels: evaluates every dashboard panel against a platform with traffic flowing (MLP_LIVE_PANELS=1)",
    )


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.skip("promtool is not installed: `make setup` installs the Debian package prometheus")
    return found


@pytest.fixture(scope="session")
def prometheus_url(platform: Settings) -> str:
    return f"http://{platform.host}:{platform.prometheus.port}"
