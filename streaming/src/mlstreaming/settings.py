"""Settings of both processors, read from `MLP_STREAMING__*` variables (the platform's settings mirror them)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MLP_STREAMING__"


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "mlp" / "streaming"


class StreamingSettings(BaseSettings):
    """Where the processors read and write, how they window and batch, and how they call the model."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # -- Kafka ------------------------------------------------------------------------------------
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Comma-separated host:port list.")
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
    allowed_lateness_seconds: int = Field(
        default=300, ge=0, description="Events older than the account's newest event by more go to dead-letter."
    )

    # -- Scoring ----------------------------------------------------------------------------------
    model_url: str = Field(default="http://127.0.0.1:8080", description="Base URL of the V2 inference server.")
    model_name: str = "fraud-detector"
    model_version: str | None = Field(default=None, description="Recorded when the server does not report one.")
    batch_size: int = Field(default=32, gt=0)
    batch_timeout_seconds: float = Field(default=0.5, gt=0, description="Longest wait to fill a micro-batch.")
    model_timeout_seconds: float = Field(default=2.0, gt=0, description="Timeout of one inference request.")
    model_attempts: int = Field(default=3, gt=0, description="Tries per micro-batch, with exponential backoff.")
    retry_backoff_seconds: float = 0.2
    breaker_failure_threshold: int = Field(default=3, gt=0, description="Failed batches that open the breaker.")
    breaker_reset_seconds: float = Field(default=10.0, gt=0, description="Open time before a trial call.")

    @property
    def broker_urls(self) -> list[str]:
        return [f"kafka://{server.strip()}" for server in self.kafka_bootstrap.split(",") if server.strip()]

    @property
    def window_expires_seconds(self) -> int:
        """Windows are kept while an on-time event may still update them."""
        return max(self.tumbling_window_seconds, self.hopping_window_seconds) + self.allowed_lateness_seconds
