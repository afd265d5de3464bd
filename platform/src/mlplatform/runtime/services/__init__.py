"""The local services, in the order they start (each depends only on those before it)."""

from mlplatform.config import Settings
from mlplatform.runtime.service import Service
from mlplatform.runtime.services.airflow import Airflow
from mlplatform.runtime.services.connect import Connect
from mlplatform.runtime.services.kafka import Kafka
from mlplatform.runtime.services.minio import Minio
from mlplatform.runtime.services.mlflow import Mlflow
from mlplatform.runtime.services.model_exporter import ModelExporter
from mlplatform.runtime.services.model_server import ModelServer
from mlplatform.runtime.services.models_api import ModelsApi
from mlplatform.runtime.services.postgres import Postgres
from mlplatform.runtime.services.prometheus import Prometheus
from mlplatform.runtime.services.statsd_exporter import StatsdExporter
from mlplatform.runtime.services.stream_processors import FeatureProcessor, ScoringProcessor

ALL: tuple[type[Service], ...] = (
    Postgres,
    Minio,
    Kafka,
    Connect,
    Mlflow,
    StatsdExporter,
    Airflow,
    ModelServer,
    FeatureProcessor,
    ScoringProcessor,
    ModelExporter,
    ModelsApi,
    Prometheus,
)
NAMES = tuple(service.name for service in ALL)


def build(settings: Settings) -> list[Service]:
    return [service(settings) for service in ALL]


def get(settings: Settings, name: str) -> Service:
    for service in ALL:
        if service.name == name:
            return service(settings)
    raise KeyError(name)
