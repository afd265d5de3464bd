"""The policy's JSON Schema, generated from the dataclasses of `mlp_policy` and their fields' metadata.

Generated, not written: the types, defaults, descriptions and bounds come from the one model, so the schema
cannot drift from it. Editors and other tools check a recipe's `promotion:` section or an `mlp-promote
--policy` document with it; `policy.schema.json` next to this package is its committed copy, which a unit test
keeps equal to what this module generates (`python -m mlp_policy.schema > policy.schema.json` refreshes it).

Three rules of `parse_policy` are beyond JSON Schema, and the schema is the looser there: a bare-number
threshold is allowed only for the ranking metric, a bound's `min` may not exceed its `max`, and autoscaling's
`max_replicas` may not be below its `min_replicas`.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from typing import Any

from mlp_policy import _SERVING, Bound, Policy

ID = "https://mlplatform.dev/schemas/promotion-policy.json"


def json_schema() -> dict[str, Any]:
    """The schema of a policy document, as `parse_policy` reads it."""
    schema = _object(Policy)
    # Recipes written by hand put batching at the top level as often as under `serving`.
    for name in sorted(_SERVING):
        schema["properties"][name] = schema["properties"]["serving"]["properties"][name]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": ID, "title": "Promotion policy", **schema}


def _object(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties, required = {}, []
    for spec in fields(cls):
        described = {"description": spec.metadata["description"]} if "description" in spec.metadata else {}
        constraints = spec.metadata.get("schema", {})
        # A field that lists its alternatives (anyOf) replaces its Python type's.
        typed = {} if "anyOf" in constraints else _type(hints[spec.name])
        properties[spec.name] = {**described, **typed, **constraints}
        if spec.default is MISSING and spec.default_factory is MISSING:
            required.append(spec.name)
        elif spec.default not in (MISSING, None) and not is_dataclass(spec.default):
            properties[spec.name]["default"] = spec.default
    return {
        "type": "object",
        "description": " ".join((cls.__doc__ or "").split()),
        "properties": properties,
        **({"required": required} if required else {}),
        "additionalProperties": False,
    }


def _type(hint: Any) -> dict[str, Any]:
    if hint is str:
        return {"type": "string"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if isinstance(hint, types.UnionType) and set(typing.get_args(hint)) == {float, type(None)}:
        return {"type": "number"}  # an unset optional is left out, not written as null
    if typing.get_origin(hint) is dict and typing.get_args(hint) == (str, Bound):
        bound = {**_object(Bound), "minProperties": 1}
        return {"type": "object", "additionalProperties": {"anyOf": [{"type": "number"}, bound]}}
    if isinstance(hint, type) and is_dataclass(hint):
        return _object(hint)
    raise TypeError(f"no JSON Schema type for {hint!r}: extend mlp_policy.schema._type")


def main() -> None:
    print(json.dumps(json_schema(), indent=2))


if __name__ == "__main__":
    main()
