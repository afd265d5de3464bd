"""Settings of the model-metrics exporter; `Settings.model_exporter` (config.py) holds one of these."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ModelExporterSettings(BaseModel):
    port: int = Field(default=9420, description="Port of the exporter's /metrics.")
    refresh_seconds: float = Field(default=15.0, gt=0, description="How often the registry is read.")
    topic: str = Field(default="prediction-log", description="Topic of the served models' request/response log.")
    group_id: str = Field(default="mlp-model-exporter", description="Consumer group reading the prediction log.")
    window: int = Field(default=1000, gt=0, description="Latest predictions per model version that drift uses.")
    baseline_size: int = Field(
        default=200, gt=0, description="Without a training reference, the version's first predictions are one."
    )
    aliases: list[str] = ["champion", "challenger"]
    reference_artifact: str = Field(
        default="reference/feature_stats.json", description="Run artifact with training's feature statistics."
    )
