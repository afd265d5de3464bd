"""The promotion policy: which metric decides, the bars a model must clear, and how it is rolled out.

One model for both readers: a recipe's `promotion:` section (validated when Airflow loads the recipe, and by
`mlp recipes validate`) and `mlp-promote --policy`. Parsed strictly (unknown keys are errors) because a typo
in a policy would otherwise silently promote or block models. `where` names the section in messages
(`promotion` in a recipe, `policy` on the promoter's command line).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any


class PolicyError(ValueError):
    """A policy that cannot be used; the message names the field and what it accepts."""


DIRECTIONS = ("max", "min")
# Spelled out in a recipe as often as not; read as `max` and `min`.
DIRECTION_ALIASES = {"maximize": "max", "minimize": "min"}
_TOP_LEVEL = {"metric", "direction", "thresholds", "min_margin", "canary_traffic", "serving", "canary", "autoscaling"}
_SERVING = {"max_batch_size", "max_batch_time"}
_AUTOSCALING = {"min_replicas", "max_replicas", "target_cpu_utilization"}
_CANARY = {"duration", "min_requests", "gates"}
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(s|m|h)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def _doc(text: str, **constraints: Any) -> dict[str, Any]:
    """A field's description and JSON Schema constraints, which `schema.json_schema()` publishes."""
    return {"description": text, "schema": constraints}


@dataclass(frozen=True)
class Bound:
    """An absolute bar on one metric: at least `min` and/or at most `max`."""

    min: float | None = field(default=None, metadata=_doc("The metric must be at least this."))
    max: float | None = field(default=None, metadata=_doc("The metric must be at most this."))

    def violation(self, metric: str, value: float) -> str | None:
        if self.min is not None and value < self.min:
            return f"{metric}={value:g} is below the minimum {self.min:g}"
        if self.max is not None and value > self.max:
            return f"{metric}={value:g} is above the maximum {self.max:g}"
        return None


@dataclass(frozen=True)
class Serving:
    """MLServer adaptive batching for the local target (1 and 0 disable it)."""

    max_batch_size: int = field(default=1, metadata=_doc("Requests MLServer batches together (1: none).", minimum=1))
    max_batch_time: float = field(
        default=0.0, metadata=_doc("Seconds MLServer waits to fill a batch (0: none).", minimum=0)
    )


@dataclass(frozen=True)
class Autoscaling:
    """How many replicas serve each version in a cluster: a HorizontalPodAutoscaler on CPU (Seldon's `hpaSpec`)
    between `min_replicas` and `max_replicas`; equal bounds mean that many replicas and no autoscaler."""

    min_replicas: int = field(default=1, metadata=_doc("Replicas each served version keeps at least.", minimum=1))
    max_replicas: int = field(
        default=1,
        metadata=_doc("Replicas the autoscaler may scale a version up to; not below min_replicas.", minimum=1),
    )
    target_cpu_utilization: int = field(
        default=70,
        metadata=_doc("Average CPU use, in percent of the CPU request, the autoscaler keeps.", minimum=1, maximum=100),
    )

    @property
    def enabled(self) -> bool:
        """Whether there is anything to scale: an autoscaler only when the bounds differ."""
        return self.max_replicas > self.min_replicas


@dataclass(frozen=True)
class Gates:
    """What a canary must show against the champion, over the judge's window, to be finalized.

    Every gate compares the two versions on the same live traffic: the canary's failed model calls as a share
    of its calls, its p99 latency as a multiple of the champion's, the population stability index of its scores
    against the champion's, and (once `min_labelled` predictions of each have an outcome) how far its precision
    and recall fall below the champion's.
    """

    max_error_ratio: float = field(
        default=0.02, metadata=_doc("Largest share of the canary's model calls that may fail.", minimum=0)
    )
    max_latency_p99_ratio: float = field(
        default=2.0, metadata=_doc("Largest p99 latency of the canary, as a multiple of the champion's.", minimum=0)
    )
    max_score_psi: float = field(
        default=0.25, metadata=_doc("Largest PSI of the canary's scores against the champion's.", minimum=0)
    )
    max_quality_drop: float = field(
        default=0.1, metadata=_doc("Largest fall of precision or recall below the champion's.", minimum=0)
    )
    min_labelled: int = field(
        default=30, metadata=_doc("Predictions of each version with an outcome before quality is compared.", minimum=1)
    )


@dataclass(frozen=True)
class Canary:
    """How the judge ends a canary: after `duration` seconds with at least `min_requests` calls per version.

    With fewer calls the window is extended once by `duration`; still too few, and the canary is rolled back.
    """

    duration: float = field(
        default=600.0,
        metadata=_doc(
            "The judge's window: seconds, or a duration like 90s, 10m, 1h.",
            anyOf=[{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": _DURATION.pattern}],
        ),
    )
    min_requests: int = field(default=50, metadata=_doc("Model calls each version needs in the window.", minimum=1))
    gates: Gates = field(default=Gates(), metadata=_doc("What the canary must show against the champion."))


@dataclass(frozen=True)
class Policy:
    """Which runs may become the champion, and how: a recipe's `promotion:` section or `mlp-promote --policy`."""

    metric: str = field(metadata=_doc("The run metric that ranks candidates against the champion.", minLength=1))
    direction: str = field(
        default="max",
        metadata=_doc("Whether more or less of the metric is better.", enum=[*DIRECTIONS, *DIRECTION_ALIASES]),
    )
    thresholds: dict[str, Bound] = field(
        default_factory=dict,
        metadata=_doc("Absolute bars by metric; a bare number only for `metric`, as the bar in its direction."),
    )
    min_margin: float = field(
        default=0.0, metadata=_doc("How much better than the champion a candidate must be.", minimum=0)
    )
    canary_traffic: int = field(
        default=10, metadata=_doc("Percent of traffic a canary gets (0: promote at once).", minimum=0, maximum=99)
    )
    serving: Serving = field(default=Serving(), metadata=_doc("The local model server's adaptive batching."))
    canary: Canary = field(default=Canary(), metadata=_doc("How the judge ends a canary."))
    autoscaling: Autoscaling = field(
        default=Autoscaling(), metadata=_doc("Replicas of each served version in a cluster, scaled on CPU.")
    )

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
        canary=_canary(data.get("canary") or {}, where),
        autoscaling=_autoscaling(data.get("autoscaling") or {}, where),
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


def _canary(data: Any, section: str) -> Canary:
    where = f"{section}.canary"
    if not isinstance(data, dict):
        raise PolicyError(f"{where} must be a mapping with duration, min_requests and gates")
    unknown = set(data) - _CANARY
    if unknown:
        raise PolicyError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    default = Canary()
    duration = parse_duration(data.get("duration", default.duration), f"{where}.duration")
    requests = _count(data.get("min_requests", default.min_requests), f"{where}.min_requests")
    gates_data = data.get("gates") or {}
    if not isinstance(gates_data, dict):
        raise PolicyError(f"{where}.gates must be a mapping of gate names to bounds")
    gate_names = {f.name for f in fields(Gates)}
    unknown = set(gates_data) - gate_names
    if unknown:
        raise PolicyError(f"{where}.gates has unknown fields: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name in gate_names & gates_data.keys():
        if name == "min_labelled":
            values[name] = _count(gates_data[name], f"{where}.gates.{name}")
            continue
        value = _number(gates_data[name], f"{where}.gates.{name}")
        if value < 0:
            raise PolicyError(f"{where}.gates.{name} must be >= 0")
        values[name] = value
    return Canary(duration=duration, min_requests=requests, gates=Gates(**values))


def _autoscaling(data: Any, section: str) -> Autoscaling:
    where = f"{section}.autoscaling"
    if not isinstance(data, dict):
        raise PolicyError(f"{where} must be a mapping with min_replicas, max_replicas and target_cpu_utilization")
    unknown = set(data) - _AUTOSCALING
    if unknown:
        raise PolicyError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    default = Autoscaling()
    least = _count(data.get("min_replicas", default.min_replicas), f"{where}.min_replicas")
    most = _count(data.get("max_replicas", default.max_replicas), f"{where}.max_replicas")
    if most < least:
        raise PolicyError(
            f"{where}.max_replicas ({most}) is below min_replicas ({least}): raise it, or set both equal for a "
            "fixed number of replicas"
        )
    target = data.get("target_cpu_utilization", default.target_cpu_utilization)
    if isinstance(target, bool) or not isinstance(target, int) or not 1 <= target <= 100:
        raise PolicyError(f"{where}.target_cpu_utilization must be an integer percent in [1, 100], not {target!r}")
    return Autoscaling(min_replicas=least, max_replicas=most, target_cpu_utilization=target)


def parse_duration(value: Any, where: str) -> float:
    """Seconds, from a number of seconds or a text like `90s`, `10m`, `1.5h`; must be positive."""
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if not match:
            raise PolicyError(f"{where} must be seconds or a duration like 90s, 10m, 1h; not {value!r}")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    else:
        seconds = _number(value, where)
    if seconds <= 0:
        raise PolicyError(f"{where} must be positive")
    return seconds


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PolicyError(f"{where} must be an integer >= 1")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PolicyError(f"{where} must be a finite number, not {value!r}")
    return float(value)
