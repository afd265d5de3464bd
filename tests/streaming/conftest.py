"""Fixtures of the stream-processor tests: per-test topics and processors that are always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mlplatform.config import Settings

from tests.streaming.helpers import STREAMING_BIN, Streams


@pytest.fixture
def streams(platform: Settings, tmp_path: Path) -> Iterator[Streams]:
    if not (STREAMING_BIN / "mlp-features").exists():
        pytest.fail(f"{STREAMING_BIN} is missing: run `uv sync --locked --project streaming`")
    current = Streams(platform, tmp_path)
    try:
        yield current
    finally:
        current.stop_all()
