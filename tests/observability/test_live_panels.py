"""Every panel of every dashboard shows data on the local platform once the main job has run.

`mlp demo` is the traffic: transactions in through CDC, features, a pipeline run that trains and promotes,
live transactions scored by the champion into the prediction log. It waits for the panels itself (rates
need two scrapes, the exporter refreshes every 15s); this test then checks each panel's queries against
the real Prometheus and names every empty panel with its dashboard.
"""

from __future__ import annotations

import subprocess

import pytest
from mlplatform.config import Settings
from mlplatform.observability.panels import coverage, panel_queries


# The demo trains, promotes and streams: minutes on a busy machine, beyond pytest.ini's bound.
@pytest.mark.timeout(1800)
def test_every_panel_has_data_after_the_demo(
    platform: Settings, prometheus_url: str, demo: subprocess.CompletedProcess[str]
) -> None:
    result = demo
    assert "Panels with data" in result.stdout, result.stdout[-3000:]
    found = coverage(prometheus_url, panel_queries())
    assert {entry.dashboard for entry in found} >= {
        "ML platform / Overview",
        "ML platform / Model serving",
        "ML platform / Model quality",
        "ML platform / Streaming",
        "ML platform / Pipelines",
        "ML platform / Kafka and Connect",
    }
    empty = [f"- {entry.dashboard} / {panel}" for entry in found for panel in entry.empty]
    assert not empty, "panels without any series after `mlp demo`:\n" + "\n".join(empty) + "\n" + result.stdout[-3000:]
