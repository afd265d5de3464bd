"""A Kafka Connect worker in distributed mode, its REST API open to data engineers.

Connector definitions hold neither secrets nor addresses: the worker has the `env` and `file`
config providers and receives where the platform's services are, and their credentials, as
`PLATFORM_*` environment variables that definitions reference as `${env:PLATFORM_POSTGRES_PASSWORD}`.
The chart's Connect cluster gets the same variables from Secrets, so one definition serves both.
"""

from __future__ import annotations

import httpx

from mlplatform.runtime.service import Endpoint, Port, write_if_changed
from mlplatform.runtime.services.jvm import JavaService


class Connect(JavaService):
    name = "connect"
    jmx_rules = "connect.yaml"
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
        """What connector definitions may reference through the `env` config provider."""
        pg, host = self.settings.postgres, self.settings.host
        return {
            "PLATFORM_POSTGRES_HOST": host,
            "PLATFORM_POSTGRES_PORT": str(pg.port),
            "PLATFORM_POSTGRES_USER": pg.user,
            "PLATFORM_POSTGRES_PASSWORD": self.credentials.postgres_password().get_secret_value(),
            "PLATFORM_S3_ENDPOINT": f"http://{host}:{self.settings.minio.port}",
            "PLATFORM_S3_ACCESS_KEY": self.settings.minio.root_user,
            "PLATFORM_S3_SECRET_KEY": self.credentials.minio_password().get_secret_value(),
        }

    def is_ready(self) -> bool:
        try:
            response = httpx.get(f"{self.rest_url}/connector-plugins", timeout=3.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and bool(response.json())

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("Kafka Connect REST", self.rest_url)]
