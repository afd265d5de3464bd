"""Reading `mlp-promote --policy`: JSON text, or `@file` (JSON or YAML), into the one policy model (mlp_policy).

The model itself, shared with the recipes, is `mlp_policy` (pipelines/promoter/policy); a PolicyError becomes
the promoter's bad-input error (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path

from mlp_policy import Policy, PolicyError, parse_policy

from mlp_promoter.errors import PromoterError


def load_policy(text: str) -> Policy:
    """A policy from JSON text, or from a file when the text is `@path` (JSON or YAML)."""
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise PromoterError(f"policy file {path} does not exist")
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return checked(yaml.safe_load(text))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromoterError(f"policy is not valid JSON: {exc}") from exc
    return checked(data)


def checked(data: object) -> Policy:
    try:
        return parse_policy(data)
    except PolicyError as exc:
        raise PromoterError(str(exc)) from None
