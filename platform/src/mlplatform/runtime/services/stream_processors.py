"""The Faust stream processors (streaming/), run from their own environment as the chart's Deployments run them.

Both read `MLP_STREAMING__*` variables; this module sets those that depend on the local platform.
"""

from __future__ import annotations

from mlplatform.runtime.service import Endpoint, Port, Service
from mlplatform.runtime.services.kafka import Kafka


class StreamProcessor(Service):
    entry_point: str
    metrics_setting: str

    @property
    def metrics_port(self) -> int:
        port: int = getattr(self.settings.streaming, self.metrics_setting)
        return port

    def ports(self) -> list[Port]:
        return [Port(f"streaming.{self.metrics_setting}", self.metrics_port)]

    def argv(self) -> list[str]:
        return [str(self.tools.python_env("streaming") / "bin" / self.entry_point), "worker"]

    def environment(self) -> dict[str, str]:
        s = self.settings
        return {
            # The SCRAM listener and user, as in the chart.
            **Kafka(s).sasl_environment("MLP_STREAMING__", s.kafka.processors_user),
            "MLP_STREAMING__DATA_DIR": str(self.data_dir),
            "MLP_STREAMING__METRICS_PORT": str(self.metrics_port),
            "MLP_STREAMING__MODEL_URL": f"http://{s.host}:{s.model_server.port}",
            "MLP_STREAMING__MODEL_NAME": s.streaming.model_name,
        }

    def is_ready(self) -> bool:
        return self.http_ok(self.metrics_port, "/metrics")

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint(f"{self.name} metrics", self.url(self.metrics_port, "/metrics"))]


class FeatureProcessor(StreamProcessor):
    name = "features"
    entry_point = "mlp-features"
    metrics_setting = "features_metrics_port"


class ScoringProcessor(StreamProcessor):
    name = "scoring"
    entry_point = "mlp-scoring"
    metrics_setting = "scoring_metrics_port"

    def environment(self) -> dict[str, str]:
        # The registry's aliases give the champion/canary split; each version answers on its own MLServer URL.
        return {
            **super().environment(),
            "MLP_STREAMING__MLFLOW_URL": f"http://{self.settings.host}:{self.settings.mlflow.port}",
        }
