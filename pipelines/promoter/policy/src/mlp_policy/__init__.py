"""The promotion policy: which metric decides, the bars a model must clear, and how it is rolled out.

One model for both readers: a recipe's `promotion:` section (validated when Airflow loads the recipe, and by
`mlp recipes validate`) and `mlp-promote --policy`. Parsed strictly (unknown keys are errors) because a typo
in a policy would otherwise silently promote or block models. `where` names the section in messages
(`promotion` in a recipe, `policy` on the promoter's command line).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any


class PolicyError(ValueError):
    """A policy that cannot be used; the message names the field and what it accepts."""


DIRECTIONS = ("max", "min")
# Spelled out in a recipe as often as not; read as `max` and `min`.
DIRECTION_ALIASES = {"maximize": "max", "minimize": "min"}
_TOP_LEVEL = {"metric", "direction", "thresholds", "min_margin", "canary_traffic", "serving"}
_SERVING = {"max_batch_size", "max_batch_time"}


@dataclass(frozen=True)
class Bound:
    """An absolute bar on one metric: at least `min` and/or at most `max`."""

    min: float | None = None
    max: float | None = None

    def violation(self, metric: str, value: float) -> str | None:
        if self.min is not None and value < self.min:
            return f"{metric}={value:g} is below the minimum {self.min:g}"
        if self.max is not None and value > self.max:
            return f"{metric}={value:g} is above the maximum {self.max:g}"
        return None


@dataclass(frozen=True)
class Serving:
    """MLServer adaptive batching for the local target (1 and 0 disable it)."""

    max_batch_size: int = 1
    max_batch_time: float = 0.0


@dataclass(frozen=True)
class Policy:
    metric: str
    direction: str = "max"
    thresholds: dict[str, Bound] = field(default_factory=dict)
    min_margin: float = 0.0
    canary_traffic: int = 10
    serving: Serving = Serving()

    def improvement(self, candidate: float, champion: float) -> float:
        """How much better the candidate is, positive when better whatever the direction."""
        return candidate - champion if self.direction == "max" else champion - candidate

    def better(self, a: float, b: float) -> bool:
        return self.improvement(a, b) > 0

    def to_dict(self) -> dict[str, Any]:
        """The policy as `parse_policy` reads it back (bounds without their unset side)."""
        data = asdict(self)
        data["thresholds"] = {m: {k: v for k, v in b.items() if v is not None} for m, b in data["thresholds"].items()}
        return data

    def to_json(self) -> str:
        """Canonical JSON: what the pipelines pass to `mlp-promote --policy` and the audit tag records."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def parse_policy(data: Any, where: str = "policy") -> Policy:
    """A Policy from its JSON/YAML form; PolicyError names the first problem as `<where>.<field>`."""
    if not isinstance(data, dict):
        raise PolicyError(f"{where} must be a mapping of fields, not {type(data).__name__}")
    serving_data = dict(data.get("serving") or {})
    # Batching may also sit at the top level, as recipes written by hand often put it.
    for key in _SERVING & data.keys():
        if key in serving_data:
            raise PolicyError(f"{where} sets {key} both at the top level and under serving")
        serving_data[key] = data[key]
    unknown = set(data) - _TOP_LEVEL - _SERVING
    if unknown:
        raise PolicyError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    metric = data.get("metric")
    if not isinstance(metric, str) or not metric:
        raise PolicyError(f"{where}.metric must name the metric that ranks runs")
    direction = data.get("direction", "max")
    direction = DIRECTION_ALIASES.get(direction, direction) if isinstance(direction, str) else direction
    if direction not in DIRECTIONS:
        choices = ", ".join([*DIRECTIONS, *DIRECTION_ALIASES])
        raise PolicyError(f"{where}.direction must be one of {choices}, not {data.get('direction')!r}")
    min_margin = _number(data.get("min_margin", 0.0), f"{where}.min_margin")
    if min_margin < 0:
        raise PolicyError(f"{where}.min_margin must be >= 0")
    canary = data.get("canary_traffic", 10)
    if isinstance(canary, bool) or not isinstance(canary, int) or not 0 <= canary < 100:
        raise PolicyError(f"{where}.canary_traffic must be an integer percent in [0, 100) (0: no canary)")
    return Policy(
        metric=metric,
        direction=direction,
        thresholds=_thresholds(data.get("thresholds") or {}, metric, direction, where),
        min_margin=min_margin,
        canary_traffic=canary,
        serving=_serving(serving_data, where),
    )


def _thresholds(data: Any, metric: str, direction: str, section: str) -> dict[str, Bound]:
    if not isinstance(data, dict):
        raise PolicyError(f"{section}.thresholds must map metric names to {{min: x}} and/or {{max: y}}")
    bounds: dict[str, Bound] = {}
    for name, spec in data.items():
        where = f"{section}.thresholds.{name}"
        if isinstance(spec, int | float) and not isinstance(spec, bool):
            if name != metric:
                raise PolicyError(f"{where}: a bare number is only allowed for the policy metric; use {{min|max: x}}")
            # For the ranking metric a bare number is the bar in its own direction.
            spec = {"min": spec} if direction == "max" else {"max": spec}
        if not isinstance(spec, dict) or not spec or set(spec) - {"min", "max"}:
            raise PolicyError(f"{where} must be {{min: x}}, {{max: y}} or both")
        bound = Bound(
            min=_number(spec["min"], f"{where}.min") if "min" in spec else None,
            max=_number(spec["max"], f"{where}.max") if "max" in spec else None,
        )
        if bound.min is not None and bound.max is not None and bound.min > bound.max:
            raise PolicyError(f"{where}: min is above max")
        bounds[name] = bound
    return bounds


def _serving(data: dict[str, Any], section: str) -> Serving:
    unknown = set(data) - _SERVING
    if unknown:
        raise PolicyError(f"{section}.serving has unknown fields: {', '.join(sorted(unknown))}")
    size = data.get("max_batch_size", 1)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise PolicyError(f"{section}.serving.max_batch_size must be an integer >= 1")
    time_ = _number(data.get("max_batch_time", 0.0), f"{section}.serving.max_batch_time")
    if time_ < 0:
        raise PolicyError(f"{section}.serving.max_batch_time must be >= 0 (seconds)")
    return Serving(max_batch_size=size, max_batch_time=time_)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PolicyError(f"{where} must be a finite number, not {value!r}")
    return float(value)
