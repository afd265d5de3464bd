"""Definitions as Strimzi `KafkaConnector` resources, for clusters that manage connectors as resources.

REST management and `KafkaConnector` resources exclude each other on one Connect cluster: the
chart's cluster runs with `strimzi.io/use-connector-resources: "false"` (REST, so `mlp connectors
apply` works there too); set it to "true" and apply this output instead to switch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from mlplatform.connectors.definitions import Located


def kafka_connectors(definitions: Sequence[Located], cluster: str, namespace: str | None) -> list[dict[str, Any]]:
    resources = []
    for item in definitions:
        definition = item.definition
        config = dict(definition.config)
        tasks_max = int(config.pop("tasks.max", "1"))
        metadata: dict[str, Any] = {"name": definition.name, "labels": {"strimzi.io/cluster": cluster}}
        if namespace:
            metadata["namespace"] = namespace
        resources.append(
            {
                "apiVersion": "kafka.strimzi.io/v1",
                "kind": "KafkaConnector",
                "metadata": metadata,
                "spec": {"class": definition.connector_class, "tasksMax": tasks_max, "config": config},
            }
        )
    return resources


def to_yaml(resources: Sequence[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(resources, sort_keys=False)
