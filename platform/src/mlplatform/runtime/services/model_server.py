"""MLServer serving the champion models over the V2 (Open Inference) protocol, as Seldon does.

The promoter's `local` target writes each model into the repository folder and asks this server to
load it. The server runs inference in its own process (`parallel_workers=0`): with worker
processes MLServer makes a newly loaded version the default before it is ready, which would fail
callers during a swap; in-process it switches only once the new version has loaded.
"""

from __future__ import annotations

from pathlib import Path

from mlplatform.runtime.service import Endpoint, Port, Service


class ModelServer(Service):
    name = "model-server"

    @property
    def repository(self) -> Path:
        """Where the promoter writes models (`mlp-promote --model-repository`)."""
        return self.data_dir / "models"

    def ports(self) -> list[Port]:
        m = self.settings.model_server
        return [
            Port("model_server.port", m.port),
            Port("model_server.grpc_port", m.grpc_port),
            Port("model_server.metrics_port", m.metrics_port),
        ]

    def prepare(self) -> None:
        super().prepare()
        self.repository.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        return [str(self.tools.python_env("mlserver") / "bin" / "mlserver"), "start", str(self.repository)]

    def environment(self) -> dict[str, str]:
        m = self.settings.model_server
        return {
            "MLSERVER_HOST": self.settings.host,
            "MLSERVER_HTTP_PORT": str(m.port),
            "MLSERVER_GRPC_PORT": str(m.grpc_port),
            "MLSERVER_METRICS_PORT": str(m.metrics_port),
            "MLSERVER_PARALLEL_WORKERS": "0",
            "MLSERVER_LOAD_MODELS_AT_STARTUP": "true",
            "MLSERVER_DEBUG": "false",
        }

    def is_ready(self) -> bool:
        return self.http_ok(self.settings.model_server.port, "/v2/health/ready")

    def endpoints(self) -> list[Endpoint]:
        m = self.settings.model_server
        return [
            Endpoint("MLServer V2 inference", self.url(m.port, "/v2/models/<model>/infer")),
            Endpoint("MLServer metrics", self.url(m.metrics_port, "/metrics")),
        ]
