"""Settings of both processors, read from `MLP_STREAMING__*` variables (the platform's settings mirror them)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

import faust
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MLP_STREAMING__"


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "mlp" / "streaming"


class StreamingSettings(BaseSettings):
    """Where the processors read and write, how they window and batch, and how they call the model."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # -- Kafka ------------------------------------------------------------------------------------
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Comma-separated host:port list.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="SASL_PLAINTEXT for the chart's SCRAM listener."
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ca_file: Path | None = Field(default=None, description="CA bundle for SSL/SASL_SSL; system CAs if unset.")
    source_topic: str = "warehouse.public.transactions"
    features_topic: str = "features"
    predictions_topic: str = "predictions"
    prediction_log_topic: str = "prediction-log"
    dead_letter_topic: str = "dead-letter"
    partitions: int = Field(
        default=1, description="Partitions of the topics the processors create (outputs, internal, changelogs)."
    )
    replication_factor: int = 1
    features_app_id: str = Field(default="mlp-features", description="Faust app id: consumer group and topic prefix.")
    scoring_app_id: str = "mlp-scoring"
    commit_interval_seconds: float = Field(default=1.0, description="How often consumed offsets are committed.")
    producer_threaded: bool = Field(
        default=False, description="Produce from a separate thread (Faust's threaded producer)."
    )
    metadata_max_age_seconds: float = Field(
        default=5.0, gt=0, description="Topic metadata refresh: a topic created after start is picked up this fast."
    )
    session_timeout_seconds: float = Field(
        default=10.0, description="A worker silent this long (e.g. killed) loses its partitions to the others."
    )

    # -- State and metrics ------------------------------------------------------------------------
    data_dir: Path = Field(default_factory=_default_data_dir, description="Faust's data folder (table state).")
    table_store: str = Field(default="memory://", description="Faust table store: memory:// or rocksdb://.")
    metrics_port: int | None = Field(default=None, description="Prometheus port; the processor's default if unset.")
    features_metrics_port: int = 9410
    scoring_metrics_port: int = 9411
    lag_interval_seconds: float = 5.0
    log_level: str = "info"

    # -- Windows ----------------------------------------------------------------------------------
    tumbling_window_seconds: int = Field(default=60, gt=0)
    hopping_window_seconds: int = Field(default=300, gt=0)
    hopping_step_seconds: int = Field(default=60, gt=0)
    max_future_seconds: int = Field(
        default=3000,
        gt=0,
        description="Events stamped further ahead of the clock go to dead-letter: Kafka refuses record timestamps "
        "more than log.message.timestamp.after.max.ms (1 h by default) in the future.",
    )
    allowed_lateness_seconds: int = Field(
        default=300, ge=0, description="Events older than the account's newest event by more go to dead-letter."
    )

    # -- Scoring ----------------------------------------------------------------------------------
    model_url: str = Field(default="http://127.0.0.1:8080", description="Base URL of the V2 inference server.")
    model_name: str = "fraud-detector"
    model_version: str | None = Field(default=None, description="Recorded when the server does not report one.")
    model_version_url: str = Field(
        default="{model_url}/v2/models/{model}/versions/{version}/infer",
        description="Where one version answers ({model_url}, {model}, {version}), for the champion/canary split.",
    )
    mlflow_url: str | None = Field(
        default=None,
        description="MLflow, whose aliases give the champion/canary split; unset: the model server splits.",
    )
    split_refresh_seconds: float = Field(default=5.0, gt=0, description="How often the split is read from MLflow.")
    batch_size: int = Field(default=32, gt=0)
    batch_timeout_seconds: float = Field(default=0.5, gt=0, description="Longest wait to fill a micro-batch.")
    model_timeout_seconds: float = Field(default=2.0, gt=0, description="Timeout of one inference request.")
    model_attempts: int = Field(default=3, gt=0, description="Tries per micro-batch, with exponential backoff.")
    retry_backoff_seconds: float = 0.2
    breaker_failure_threshold: int = Field(default=3, gt=0, description="Failed batches that open the breaker.")
    breaker_reset_seconds: float = Field(default=10.0, gt=0, description="Open time before a trial call.")

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> StreamingSettings:
        if self.kafka_security_protocol.startswith("SASL_") and not (self.kafka_username and self.kafka_password):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs a user: set "
                f"{ENV_PREFIX}KAFKA_USERNAME and {ENV_PREFIX}KAFKA_PASSWORD (the KafkaUser's Secret in the chart)"
            )
        return self

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.kafka_security_protocol.endswith("SSL"):
            return None
        return ssl.create_default_context(cafile=str(self.kafka_ca_file) if self.kafka_ca_file else None)

    def broker_credentials(self) -> faust.types.auth.CredentialsT | None:
        """What Faust authenticates with; None on a plaintext listener."""
        context = self._ssl_context()
        if self.kafka_security_protocol.startswith("SASL_"):
            assert self.kafka_password is not None  # checked by the validator
            return faust.SASLCredentials(
                username=self.kafka_username,
                password=self.kafka_password.get_secret_value(),
                mechanism=self.kafka_sasl_mechanism,
                ssl_context=context,
            )
        return faust.SSLCredentials(context) if context else None

    def client_options(self) -> dict[str, Any]:
        """The same authentication as keyword arguments of aiokafka clients (topic creation, benchmarks)."""
        options: dict[str, Any] = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_security_protocol.startswith("SASL_"):
            assert self.kafka_password is not None
            options |= {
                "sasl_mechanism": self.kafka_sasl_mechanism,
                "sasl_plain_username": self.kafka_username,
                "sasl_plain_password": self.kafka_password.get_secret_value(),
            }
        context = self._ssl_context()
        if context:
            options["ssl_context"] = context
        return options

    @property
    def broker_urls(self) -> list[str]:
        return [f"kafka://{server.strip()}" for server in self.kafka_bootstrap.split(",") if server.strip()]

    @property
    def window_expires_seconds(self) -> int:
        """Windows are kept while an on-time event may still update them."""
        return max(self.tumbling_window_seconds, self.hopping_window_seconds) + self.allowed_lateness_seconds
