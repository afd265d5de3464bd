"""statsd_exporter: Airflow's StatsD metrics as Prometheus series, named by the chart's mapping."""

from __future__ import annotations

from mlplatform.observability.paths import STATSD_MAPPING
from mlplatform.runtime.service import Endpoint, Port, Service


class StatsdExporter(Service):
    name = "statsd-exporter"

    def ports(self) -> list[Port]:
        s = self.settings.statsd_exporter
        return [Port("statsd_exporter.port", s.port), Port("statsd_exporter.statsd_port", s.statsd_port)]

    def argv(self) -> list[str]:
        s, host = self.settings.statsd_exporter, self.settings.host
        return [
            str(self.tools.statsd_exporter),
            f"--web.listen-address={host}:{s.port}",
            f"--statsd.listen-udp={host}:{s.statsd_port}",
            f"--statsd.listen-tcp={host}:{s.statsd_port}",
            f"--statsd.mapping-config={STATSD_MAPPING}",
        ]

    def is_ready(self) -> bool:
        return self.http_ok(self.settings.statsd_exporter.port, "/metrics")

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("Airflow metrics (statsd_exporter)", self.url(self.settings.statsd_exporter.port, "/metrics"))]
