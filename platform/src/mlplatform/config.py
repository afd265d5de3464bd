"""One configuration model, read from `MLP_*` environment variables, for the CLI, the runtime and the tests.

Nested settings use a double underscore: `MLP_KAFKA__PORT=19092`. Passwords are not settings that
live in files: they are generated once into the secrets folder (see `credentials`), or given as
`SecretStr` through the environment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlplatform.observability.settings import ModelExporterSettings

ENV_PREFIX = "MLP_"
ENV_NESTED_DELIMITER = "__"


def _default_home() -> Path:
    # PostgreSQL refuses to run as root, so as root it runs as the `postgres` user, which cannot
    # enter /root: the state then lives where every user can traverse to it.
    if os.geteuid() == 0:
        return Path("/var/lib/mlp")
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "mlp"


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mlp"


class PostgresSettings(BaseModel):
    port: int = 15432
    user: str = "mlp"
    password: SecretStr | None = None
    databases: list[str] = ["mlflow", "airflow", "warehouse"]
    bin_dir: Path | None = Field(default=None, description="PostgreSQL's bin folder; found if unset.")
    os_user: str = Field(default="postgres", description="The account PostgreSQL runs as when mlp is root.")


class MinioSettings(BaseModel):
    port: int = 9000
    console_port: int = 9001
    root_user: str = "mlp-admin"
    root_password: SecretStr | None = None
    buckets: list[str] = ["mlflow", "raw-data"]


class KafkaSettings(BaseModel):
    port: int = 9092
    controller_port: int = 9093
    # A SASL_PLAINTEXT SCRAM-SHA-512 listener, as the chart's clients listener: the processors and the
    # model exporter log in there as their own users, as with the chart's KafkaUsers.
    sasl_port: int = 9096
    processors_user: str = "faust"
    exporter_user: str = "model-exporter"
    # Who `mlp kafka` (Kafka's own command-line tools) logs in as: a data engineer's or an operator's session.
    tools_user: str = "mlp-operator"
    metrics_port: int = 9404
    heap: str = "512m"


class ConnectSettings(BaseModel):
    port: int = 8083
    metrics_port: int = 9405
    heap: str = "768m"
    group_id: str = "mlp-connect"
    # A Connect REST API elsewhere (a cluster's) for `mlp connectors`; unset means the local worker.
    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_cert: Path | None = None


class MlflowSettings(BaseModel):
    port: int = 5000
    artifact_bucket: str = "mlflow"
    workers: int = 1


class StreamingSettings(BaseModel):
    """Local settings of the stream processors; they read the same `MLP_STREAMING__*` variables themselves."""

    features_metrics_port: int = 9410
    scoring_metrics_port: int = 9411
    model_name: str = "fraud-detector"


class ModelServerSettings(BaseModel):
    port: int = 8080
    grpc_port: int = 8081
    metrics_port: int = 8082


class ModelsApiSettings(BaseModel):
    """The model management API (the promoter's `mlp-models-api`), which `mlp models` talks to."""

    port: int = 8095
    # True: every call needs `Authorization: Bearer <token>`, the token generated into the secrets folder
    # (`models-api-token`), which `mlp models` sends.
    require_token: bool = False


class AirflowSettings(BaseModel):
    port: int = 8280
    worker_log_port: int = 8793
    trigger_log_port: int = 8794
    admin_user: str = "admin"
    parallelism: int = 4
    # True: every recipe DAG (its watchers too) starts paused until someone unpauses or triggers it. The test
    # session sets it, so no watcher retrains in the background of unrelated tests; `mlp demo` triggers its own.
    paused_at_creation: bool = False
    # The recipes (each beside its DAG file) that Airflow runs and `mlp recipes` reads; unset: pipelines/recipes.
    recipes_dir: Path | None = None


class StatsdExporterSettings(BaseModel):
    port: int = 9102
    # Where Airflow sends StatsD (UDP, and TCP on the same port).
    statsd_port: int = 9125


class PrometheusSettings(BaseModel):
    port: int = 9090
    scrape_interval: str = "5s"
    retention: str = "7d"


class ClusterSettings(BaseModel):
    """The local Kubernetes control plane (`mlp cluster up`): its loopback ports and simulated nodes."""

    apiserver_port: int = 16443
    etcd_port: int = 12379
    etcd_peer_port: int = 12380
    controller_manager_port: int = 11257
    scheduler_port: int = 11259
    # kwok's health endpoint, and that of the kwok playing the operators' status.
    kwok_port: int = 11247
    operators_port: int = 11248
    nodes: int = Field(default=1, ge=1, description="How many nodes kwok simulates.")
    node_cpu: str = "32"
    node_memory: str = "128Gi"
    node_pods: int = 250
    # Both ranges are on loopback: nothing runs at a Service's or a pod's address here, and whatever the
    # API server dials (a webhook's Service, a proxied pod) must never leave this machine.
    service_cidr: str = "127.96.0.0/16"
    pod_cidr: str = "127.244.0.0/16"


class Settings(BaseSettings):
    """Where the platform keeps its state and tools, and how its services listen."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTED_DELIMITER, extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Data, logs, secrets, run files.")
    cache_dir: Path = Field(default_factory=_default_cache, description="Downloaded and built tools.")
    host: str = "127.0.0.1"
    ready_timeout: float = Field(default=240.0, description="Seconds a service may take to become ready.")

    postgres: PostgresSettings = PostgresSettings()
    minio: MinioSettings = MinioSettings()
    kafka: KafkaSettings = KafkaSettings()
    connect: ConnectSettings = ConnectSettings()
    mlflow: MlflowSettings = MlflowSettings()
    airflow: AirflowSettings = AirflowSettings()
    model_server: ModelServerSettings = ModelServerSettings()
    models_api: ModelsApiSettings = ModelsApiSettings()
    streaming: StreamingSettings = StreamingSettings()
    model_exporter: ModelExporterSettings = ModelExporterSettings()
    statsd_exporter: StatsdExporterSettings = StatsdExporterSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    cluster: ClusterSettings = ClusterSettings()

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a child process (secrets excluded)."""
        env: dict[str, str] = {}
        for key, value in self.model_dump(exclude_none=True).items():
            if isinstance(value, dict):
                for sub, subvalue in value.items():
                    if not isinstance(getattr(getattr(self, key), sub), SecretStr):
                        env[f"{ENV_PREFIX}{key}{ENV_NESTED_DELIMITER}{sub}".upper()] = _env_value(subvalue)
            else:
                env[f"{ENV_PREFIX}{key}".upper()] = _env_value(value)
        return env


def _env_value(value: object) -> str:
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def setting_env_name(path: str) -> str:
    """`kafka.port` -> `MLP_KAFKA__PORT`: the variable a user sets to change a setting."""
    return ENV_PREFIX + path.replace(".", ENV_NESTED_DELIMITER).upper()


def port_settings() -> list[str]:
    """Dotted names of every port setting (`kafka.port`, …): what an isolated instance must move."""
    names = []
    for section, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += [f"{section}.{name}" for name in annotation.model_fields if name.endswith("port")]
    return names
