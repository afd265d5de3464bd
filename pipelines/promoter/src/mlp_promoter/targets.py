"""Where a rollout goes: one interface, an implementation per `--target` name, as MLflow picks a store by scheme.

`promote`, `finalize` and `rollback` decide; a `Target` serves what they decided. Each receives the versions to
serve with their traffic shares (the first is the stable champion, a second one the canary) and returns what
it did, for the JSON decision. A target that cannot serve two versions side by side (`canary = False`) is
handed the new version alone, and the promoter crowns it at once.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from mlp_policy import Policy

from mlp_promoter.errors import PromoterError


@dataclass(frozen=True)
class Rollout:
    """One version to serve: its registered version number, where its model artifacts are, its traffic share."""

    version: str
    artifact_location: str
    traffic: int


class Target(ABC):
    """Serves a registered model's versions. `dry_run` targets change nothing and say what they would do."""

    #: The `--target` name that selects this implementation.
    name: ClassVar[str]
    #: Whether a new version can take a share of traffic beside the champion.
    canary: ClassVar[bool]

    def __init__(self, *, dry_run: bool = False) -> None:
        self.dry_run = dry_run

    @classmethod
    @abstractmethod
    def from_cli(cls, args: argparse.Namespace) -> Target:
        """The target `mlp-promote`'s options describe (each target reads its own option group)."""

    @abstractmethod
    def publish(self, model_name: str, rollouts: list[Rollout], policy: Policy) -> dict[str, Any]:
        """Serve `rollouts` of `model_name` as `policy` says (each target reads its part: batching, autoscaling),
        or, in a dry run, describe it; raise RolloutError on failure."""

    @abstractmethod
    def version_state(self, model_name: str, version: str) -> dict[str, Any]:
        """What serves one version now, for the model management API: `ready` (bool), `state` (the target's own
        word for it), `endpoint` (its V2 inference URL) and `docs` (the model's V2 OpenAPI page)."""


def target_class(name: str) -> type[Target]:
    """The implementation registered for `--target name`."""
    from mlp_promoter.local import LocalTarget
    from mlp_promoter.seldon import SeldonTarget

    known: dict[str, type[Target]] = {cls.name: cls for cls in (SeldonTarget, LocalTarget)}
    if name not in known:
        raise PromoterError(f"unknown target {name!r}: use one of {', '.join(sorted(known))}")
    return known[name]
