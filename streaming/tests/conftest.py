"""Unit-test fixtures: settings whose Kafka is never reached (outputs go to a RecordingSink)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mlstreaming.settings import StreamingSettings


@pytest.fixture
def settings(tmp_path: Any) -> Iterator[StreamingSettings]:
    yield StreamingSettings(
        kafka_bootstrap="127.0.0.1:1",
        source_topic="tx",
        features_topic="features",
        dead_letter_topic="dead-letter",
        data_dir=tmp_path,
        tumbling_window_seconds=60,
        hopping_window_seconds=300,
        hopping_step_seconds=60,
        allowed_lateness_seconds=120,
    )
