"""Prometheus scraping every local component that serves metrics, with the chart's alert rules.

The scrape list is data (`TARGETS`): a job, the setting holding its port and the metrics path. A target
whose setting is not declared (a component this platform does not run) is left out, so adding a component
is one line. Every target carries `namespace="mlp"`, the label the chart's monitors add in the cluster, so
the same dashboards and rules work on a laptop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlplatform.config import Settings
from mlplatform.observability.paths import rule_files
from mlplatform.runtime.service import Endpoint, Port, Service, write_if_changed

#: The release namespace of the chart's defaults; dashboards select it by default.
NAMESPACE = "mlp"


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    #: Dotted path of the setting with the port, e.g. "kafka.metrics_port".
    port_setting: str
    path: str = "/metrics"

    def port(self, settings: Settings) -> int | None:
        value: Any = settings
        for part in self.port_setting.split("."):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value if isinstance(value, int) else None


TARGETS: tuple[ScrapeTarget, ...] = (
    ScrapeTarget("prometheus", "prometheus.port"),
    ScrapeTarget("mlflow", "mlflow.port"),
    ScrapeTarget("minio", "minio.port", "/minio/v2/metrics/cluster"),
    ScrapeTarget("kafka", "kafka.metrics_port"),
    ScrapeTarget("kafka-connect", "connect.metrics_port"),
    ScrapeTarget("model-exporter", "model_exporter.port"),
    ScrapeTarget("model-server", "model_server.metrics_port"),
    ScrapeTarget("stream-features", "streaming.features_metrics_port"),
    ScrapeTarget("stream-scoring", "streaming.scoring_metrics_port"),
    ScrapeTarget("airflow-statsd", "statsd_exporter.port"),
)


class Prometheus(Service):
    name = "prometheus"

    def ports(self) -> list[Port]:
        return [Port("prometheus.port", self.settings.prometheus.port)]

    def scrape_targets(self) -> dict[str, tuple[int, str]]:
        """Job name -> (port, metrics path), for the targets whose port setting exists."""
        found: dict[str, tuple[int, str]] = {}
        for target in TARGETS:
            port = target.port(self.settings)
            if port is not None:
                found[target.job] = (port, target.path)
        return found

    def config(self) -> dict[str, Any]:
        interval = self.settings.prometheus.scrape_interval
        return {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(path) for path in rule_files()],
            "scrape_configs": [
                {
                    "job_name": job,
                    "metrics_path": path,
                    "static_configs": [
                        {
                            "targets": [f"{self.settings.host}:{port}"],
                            "labels": {"namespace": NAMESPACE},
                        }
                    ],
                }
                for job, (port, path) in self.scrape_targets().items()
            ],
        }

    def prepare(self) -> None:
        super().prepare()
        write_if_changed(self.config_file, yaml.safe_dump(self.config(), sort_keys=False))

    @property
    def config_file(self) -> Path:
        return self.run_dir / "prometheus.yml"

    def argv(self) -> list[str]:
        p = self.settings.prometheus
        return [
            str(self.tools.prometheus),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--storage.tsdb.retention.time={p.retention}",
            f"--web.listen-address={self.settings.host}:{p.port}",
            "--web.enable-lifecycle",
        ]

    def is_ready(self) -> bool:
        return self.http_ok(self.settings.prometheus.port, "/-/ready")

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("Prometheus", self.url(self.settings.prometheus.port))]
