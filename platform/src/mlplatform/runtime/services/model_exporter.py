"""The MLflow model-metrics exporter (mlplatform.observability.model_exporter) as a local service.

It runs in the platform's own environment and needs MLflow (the registry) and Kafka (the prediction log);
Prometheus scrapes it as job `model-exporter`. Its settings are `Settings.model_exporter`
(`MLP_MODEL_EXPORTER__PORT`, ...), defaulting to ModelExporterSettings() until the setting is declared.
"""

from __future__ import annotations

import sys

from mlplatform.observability.settings import ModelExporterSettings
from mlplatform.runtime.service import Endpoint, Port, Service
from mlplatform.runtime.services.kafka import Kafka


class ModelExporter(Service):
    name = "model-exporter"

    @property
    def config(self) -> ModelExporterSettings:
        return self.settings.model_exporter

    def ports(self) -> list[Port]:
        return [Port("model_exporter.port", self.config.port)]

    def argv(self) -> list[str]:
        c, s = self.config, self.settings
        return [
            sys.executable,
            "-m",
            "mlplatform.observability.model_exporter",
            "--host",
            s.host,
            "--port",
            str(c.port),
            "--mlflow-url",
            f"http://{s.host}:{s.mlflow.port}",
            "--kafka-bootstrap",
            Kafka(s).sasl_bootstrap_servers,
            "--topic",
            c.topic,
            "--group-id",
            c.group_id,
            "--refresh-seconds",
            str(c.refresh_seconds),
            "--window",
            str(c.window),
            "--baseline-size",
            str(c.baseline_size),
            "--reference-artifact",
            c.reference_artifact,
        ]

    def environment(self) -> dict[str, str]:
        """Its own SCRAM user on the SCRAM listener, as the chart's KafkaUser (the bootstrap is on argv)."""
        variables = Kafka(self.settings).sasl_environment("MLP_MODEL_EXPORTER__", self.settings.kafka.exporter_user)
        variables.pop("MLP_MODEL_EXPORTER__KAFKA_BOOTSTRAP")
        return variables

    def is_ready(self) -> bool:
        return self.http_ok(self.config.port, "/metrics")

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("Model metrics exporter", self.url(self.config.port, "/metrics"))]
