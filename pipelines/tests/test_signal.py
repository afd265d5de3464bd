"""The Prometheus signal trigger: retrain (emit the asset) only above the threshold."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from mlpipelines import local


@pytest.fixture
def prometheus() -> Iterator[tuple[str, list[float]]]:
    values: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            result = [{"metric": {}, "value": [0, str(v)]} for v in values]
            body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", values
    server.shutdown()


def test_signal_above_threshold_triggers(prometheus: tuple[str, list[float]]) -> None:
    url, values = prometheus
    values.extend([0.01, 0.2])
    assert local.check_signal(url, "drift", 0.05) == 0.2


@pytest.mark.parametrize("current", [[0.01], []])
def test_signal_below_threshold_or_absent_skips(prometheus: tuple[str, list[float]], current: list[float]) -> None:
    url, values = prometheus
    values.extend(current)
    with pytest.raises(local.Skip):
        local.check_signal(url, "drift", 0.05)
