"""Loading connector definitions: every problem names its file and field, before Connect is asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlplatform.connectors.definitions import load_definitions
from mlplatform.connectors.export import kafka_connectors
from mlplatform.errors import PlatformError
from mlplatform.tools import PROJECT_ROOT


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_shipped_definitions_load_and_hold_no_literal_secret() -> None:
    loaded = load_definitions(PROJECT_ROOT / "connectors")
    names = {item.definition.name for item in loaded}
    assert {"transactions-cdc", "transactions-analytics-sink"} <= names
    for item in loaded:
        for key, value in item.definition.config.items():
            if "password" in key:
                assert value.startswith("${env:"), (item.path, key)


def test_yaml_values_become_connect_strings(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: a\nclass: X\nconfig:\n  tasks.max: 2\n  delete.enabled: true\n")
    config = load_definitions(tmp_path)[0].definition.connect_config()
    assert config == {"connector.class": "X", "name": "a", "tasks.max": "2", "delete.enabled": "true"}


def test_every_problem_is_reported_with_its_file_and_field(tmp_path: Path) -> None:
    bad_yaml = write(tmp_path, "broken.yaml", "name: [unclosed\n")
    no_class = write(tmp_path, "no-class.yaml", "name: b\nconfig: {}\n")
    secret = write(tmp_path, "secret.yaml", "name: c\nclass: X\nconfig:\n  database.password: hunter2\n")
    with pytest.raises(PlatformError) as raised:
        load_definitions(tmp_path)
    message = str(raised.value)
    assert f"{bad_yaml}: not valid YAML" in message
    assert f"{no_class}: class: Field required" in message
    assert f"{secret}: config: Value error, 'database.password' holds a literal value" in message
    assert "hunter2" not in message.replace("'database.password' holds", "")


def test_duplicate_names_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", "name: same\nclass: X\n")
    write(tmp_path, "two.yaml", "name: same\nclass: Y\n")
    with pytest.raises(PlatformError, match="connector name 'same' is defined more than once"):
        load_definitions(tmp_path)


def test_export_moves_tasks_max_into_the_spec(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: a\nclass: X\nconfig:\n  tasks.max: 3\n  topic: t\n")
    [resource] = kafka_connectors(load_definitions(tmp_path), cluster="c", namespace="ns")
    assert resource["metadata"] == {"name": "a", "labels": {"strimzi.io/cluster": "c"}, "namespace": "ns"}
    assert resource["spec"] == {"class": "X", "tasksMax": 3, "config": {"topic": "t"}}
