"""Connector definitions: one YAML file per connector (name, class, config), validated on load.

A definition never holds a secret or an address: it references the Connect worker's environment
(`${env:PLATFORM_POSTGRES_PASSWORD}`), which the config providers resolve inside the worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlplatform.errors import PlatformError

#: Keys whose literal values would be secrets; a definition must reference them instead.
SECRET_KEY = re.compile(r"(password|secret|token|credential|api\.?key|access\.?key)", re.IGNORECASE)
REFERENCE = re.compile(r"^\$\{[a-zA-Z0-9_]+:[^}]+\}$")


class ConnectorDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
    connector_class: str = Field(alias="class")
    config: dict[str, str] = Field(default_factory=dict)

    @field_validator("config", mode="before")
    @classmethod
    def _as_strings(cls, value: Any) -> Any:
        """Connect takes every value as a string; YAML numbers and booleans are written as Connect expects."""
        if not isinstance(value, dict):
            return value
        return {str(k): _connect_string(v) for k, v in value.items()}

    @field_validator("config")
    @classmethod
    def _no_literal_secrets(cls, config: dict[str, str]) -> dict[str, str]:
        for key, value in config.items():
            if SECRET_KEY.search(key) and value and not REFERENCE.match(value):
                raise ValueError(
                    f"'{key}' holds a literal value; reference a secret instead, "
                    "e.g. ${env:PLATFORM_POSTGRES_PASSWORD} or ${file:/path/to/secrets.properties:key}"
                )
        return config

    def connect_config(self) -> dict[str, str]:
        """The configuration as Connect stores it: class and name included."""
        return {"connector.class": self.connector_class, "name": self.name, **self.config}


@dataclass(frozen=True)
class Located:
    """A definition and the file it came from, so every message can point at the file."""

    definition: ConnectorDefinition
    path: Path


def _connect_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_definitions(folder: Path) -> list[Located]:
    """Every `*.yaml`/`*.yml` in `folder`; all problems are collected and reported together."""
    if not folder.is_dir():
        raise PlatformError(f"No connector folder at {folder}. Pass --dir with the folder of your definitions.")
    found: list[Located] = []
    problems: list[str] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            raw = yaml.safe_load(path.read_text())
            found.append(Located(ConnectorDefinition.model_validate(raw), path))
        except yaml.YAMLError as error:
            problems.append(f"{path}: not valid YAML: {error}")
        except ValidationError as error:
            for issue in error.errors():
                where = ".".join(str(part) for part in issue["loc"]) or "(file)"
                problems.append(f"{path}: {where}: {issue['msg']}")
    names = [item.definition.name for item in found]
    for name in sorted({n for n in names if names.count(n) > 1}):
        files = ", ".join(str(item.path) for item in found if item.definition.name == name)
        problems.append(f"connector name '{name}' is defined more than once ({files}); names must be unique")
    if problems:
        raise PlatformError("Invalid connector definitions:\n  " + "\n  ".join(problems))
    if not found:
        raise PlatformError(f"No connector definitions (*.yaml) in {folder}.")
    return found
