"""Every panel of every dashboard shows data on a running platform with traffic flowing.

Needs traffic (data in, features, predictions, a pipeline run) that the lead's integration generates, so it
runs only with MLP_LIVE_PANELS=1; MLP_LIVE_PANELS_TIMEOUT (seconds, default 180) bounds the wait for
panels that fill slowly (rates need two scrapes, the exporter refreshes every 15s).
"""

from __future__ import annotations

import os
import time

import pytest

from tests.observability.helpers import PanelQuery, evaluate, panel_queries

pytestmark = [
    pytest.mark.live_panels,
    pytest.mark.skipif(
        os.environ.get("MLP_LIVE_PANELS") != "1",
        reason="live panel check needs traffic on the platform: set MLP_LIVE_PANELS=1 once traffic generation runs",
    ),
]


def empty_panels(prometheus: str, panels: list[list[PanelQuery]]) -> list[list[PanelQuery]]:
    return [queries for queries in panels if not any(evaluate(prometheus, q.expr) for q in queries)]


def test_every_panel_has_data(prometheus_url: str) -> None:
    deadline = time.monotonic() + float(os.environ.get("MLP_LIVE_PANELS_TIMEOUT", "180"))
    empty = empty_panels(prometheus_url, panel_queries())
    while empty and time.monotonic() < deadline:
        time.sleep(5)
        empty = empty_panels(prometheus_url, empty)
    assert not empty, "panels without any series:\n" + "\n".join(
        f"- {queries[0].dashboard} / {queries[0].panel}: {' | '.join(q.expr for q in queries)}" for queries in empty
    )
