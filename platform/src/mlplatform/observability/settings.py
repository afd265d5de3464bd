"""Settings of the model-metrics exporter; `Settings.model_exporter` (config.py) holds one of these."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr


class ModelExporterSettings(BaseModel):
    port: int = Field(default=9420, description="Port of the exporter's /metrics.")
    refresh_seconds: float = Field(default=15.0, gt=0, description="How often the registry is read.")
    topic: str = Field(default="prediction-log", description="Topic of the served models' request/response log.")
    group_id: str = Field(default="mlp-model-exporter", description="Consumer group reading the prediction log.")
    window: int = Field(default=1000, gt=0, description="Latest predictions per model version that drift uses.")
    baseline_size: int = Field(
        default=200, gt=0, description="Without a training reference, the version's first predictions are one."
    )
    labels_topic: str | None = Field(
        default="warehouse.public.transactions",
        description="Change topic of the warehouse's transactions, whose `label_field` is each prediction's outcome.",
    )
    label_field: str = Field(default="is_fraud", description="The outcome column of the labels topic's rows.")
    labels_kept: int = Field(default=200_000, gt=0, description="Labels and unlabelled predictions kept for the join.")
    aliases: list[str] = ["champion", "challenger"]
    reference_artifact: str = Field(
        default="reference/feature_stats.json", description="Run artifact with training's feature statistics."
    )
    # Kafka login for the prediction log (the chart's SCRAM listener); the password only from the environment.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None

    def kafka_options(self) -> dict[str, Any]:
        """Keyword arguments of kafka-python clients; ValueError naming the variables when the login is incomplete."""
        options: dict[str, Any] = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_security_protocol.startswith("SASL_"):
            if not (self.kafka_username and self.kafka_password):
                raise ValueError(
                    f"{self.kafka_security_protocol} needs MLP_MODEL_EXPORTER__KAFKA_USERNAME and "
                    "MLP_MODEL_EXPORTER__KAFKA_PASSWORD"
                )
            options |= {
                "sasl_mechanism": self.kafka_sasl_mechanism,
                "sasl_plain_username": self.kafka_username,
                "sasl_plain_password": self.kafka_password.get_secret_value(),
            }
        return options
