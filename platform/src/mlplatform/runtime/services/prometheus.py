"""Prometheus scraping every local component that serves metrics, as the chart's monitors do."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlplatform.runtime.service import Endpoint, Port, Service, write_if_changed


class Prometheus(Service):
    name = "prometheus"

    def ports(self) -> list[Port]:
        return [Port("prometheus.port", self.settings.prometheus.port)]

    def scrape_targets(self) -> dict[str, tuple[int, str]]:
        """Job name -> (port, metrics path)."""
        s = self.settings
        return {
            "prometheus": (s.prometheus.port, "/metrics"),
            "mlflow": (s.mlflow.port, "/metrics"),
            "minio": (s.minio.port, "/minio/v2/metrics/cluster"),
            "kafka": (s.kafka.metrics_port, "/metrics"),
            "kafka-connect": (s.connect.metrics_port, "/metrics"),
        }

    def prepare(self) -> None:
        super().prepare()
        interval = self.settings.prometheus.scrape_interval
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {
                    "job_name": job,
                    "metrics_path": path,
                    "static_configs": [{"targets": [f"{self.settings.host}:{port}"]}],
                }
                for job, (port, path) in self.scrape_targets().items()
            ],
        }
        write_if_changed(self.config_file, yaml.safe_dump(config, sort_keys=False))

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
