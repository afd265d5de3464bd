"""A Kafka Connect worker in distributed mode, its REST API open to data engineers.

Connector secrets are never written into connector configs: the worker has the `env` and `file`
config providers, and receives the platform's credentials as environment variables that
connector definitions reference as `${env:PLATFORM_POSTGRES_PASSWORD}`.
"""

from __future__ import annotations

import httpx

from mlplatform.runtime.service import Endpoint, Port, write_if_changed
from mlplatform.runtime.services.jvm import JavaService

#: Variables the worker exports to connector configs through the `env` config provider.
SECRET_VARIABLES = ("PLATFORM_POSTGRES_PASSWORD", "PLATFORM_S3_ACCESS_KEY", "PLATFORM_S3_SECRET_KEY")


class Connect(JavaService):
    name = "connect"
    main_class = "org.apache.kafka.connect.cli.ConnectDistributed"

    @property
    def heap(self) -> str:
        return self.settings.connect.heap

    @property
    def metrics_port(self) -> int:
        return self.settings.connect.metrics_port

    @property
    def rest_url(self) -> str:
        return self.url(self.settings.connect.port)

    def ports(self) -> list[Port]:
        c = self.settings.connect
        return [Port("connect.port", c.port), Port("connect.metrics_port", c.metrics_port)]

    @property
    def config_file(self) -> str:
        return str(self.run_dir / "connect-distributed.properties")

    def prepare(self) -> None:
        super().prepare()
        c, host = self.settings.connect, self.settings.host
        properties = {
            "bootstrap.servers": f"{host}:{self.settings.kafka.port}",
            "group.id": c.group_id,
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
            "config.storage.topic": f"_{c.group_id}-configs",
            "offset.storage.topic": f"_{c.group_id}-offsets",
            "status.storage.topic": f"_{c.group_id}-status",
            "config.storage.replication.factor": 1,
            "offset.storage.replication.factor": 1,
            "status.storage.replication.factor": 1,
            "offset.flush.interval.ms": 1000,
            "listeners": f"http://{host}:{c.port}",
            "rest.advertised.host.name": host,
            "rest.advertised.port": c.port,
            "plugin.path": str(self.tools.kafka_plugins),
            # Every plugin ships ServiceLoader manifests; skipping the reflective scan starts faster.
            "plugin.discovery": "service_load",
            "config.providers": "env,file",
            "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
        }
        write_if_changed(
            self.run_dir / "connect-distributed.properties",
            "".join(f"{k}={v}\n" for k, v in properties.items()),
        )

    def arguments(self) -> list[str]:
        return [self.config_file]

    def environment(self) -> dict[str, str]:
        return dict(
            zip(
                SECRET_VARIABLES,
                (
                    self.credentials.postgres_password().get_secret_value(),
                    self.settings.minio.root_user,
                    self.credentials.minio_password().get_secret_value(),
                ),
                strict=True,
            )
        )

    def is_ready(self) -> bool:
        try:
            response = httpx.get(f"{self.rest_url}/connector-plugins", timeout=3.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and bool(response.json())

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("Kafka Connect REST", self.rest_url)]
