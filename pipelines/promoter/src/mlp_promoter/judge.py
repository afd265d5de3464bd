"""The judge of a canary: its live traffic against the champion's, gate by gate, into finalize, extend or roll back.

Pure: `measure.py` reads what the two versions did over the window from Prometheus (the same queries locally and
in a cluster), this module decides, and `promote.judge` carries the decision out through the target. Every gate
compares the canary with the champion on the same traffic in the same window, so load, data and time of day
affect both alike.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mlp_policy import Canary

# Empty score bins would make the PSI infinite; both distributions are floored at this share.
EPSILON = 1e-4
Decision = Literal["finalize", "rollback", "extend"]


@dataclass(frozen=True)
class Measured:
    """What one version did over the window (counts are increases over the window, not totals)."""

    calls: float = 0.0
    failed: float = 0.0
    latency_p99: float | None = None
    #: Cumulative score histogram: (upper bound, predictions at or below it), ascending, +Inf last.
    scores: tuple[tuple[float, float], ...] = ()
    #: Predictions with a known outcome, by outcome: true_positive, false_positive, false_negative, true_negative.
    outcomes: dict[str, float] = field(default_factory=dict)

    @property
    def error_ratio(self) -> float:
        return self.failed / self.calls if self.calls else 0.0

    @property
    def labelled(self) -> float:
        return sum(self.outcomes.values())

    def precision(self) -> float | None:
        tp, fp = self.outcomes.get("true_positive", 0.0), self.outcomes.get("false_positive", 0.0)
        return tp / (tp + fp) if tp + fp else None

    def recall(self) -> float | None:
        tp, fn = self.outcomes.get("true_positive", 0.0), self.outcomes.get("false_negative", 0.0)
        return tp / (tp + fn) if tp + fn else None


@dataclass(frozen=True)
class Gate:
    """One gate's verdict: `passed` is None when the gate could not be evaluated (and then does not block)."""

    name: str
    value: float | None
    bound: float
    passed: bool | None
    detail: str


@dataclass
class Judgement:
    decision: Decision
    reasons: list[str]
    gates: list[Gate] = field(default_factory=list)

    @property
    def failed(self) -> list[Gate]:
        return [gate for gate in self.gates if gate.passed is False]

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "reasons": self.reasons, "gates": [asdict(gate) for gate in self.gates]}


def judge(policy: Canary, champion: Measured, canary: Measured, *, extended: bool) -> Judgement:
    """Finalize when every gate passes, roll back when one fails; too little traffic: extend once, then roll back."""
    too_few = [
        f"{who} made {version.calls:.0f} model calls"
        for who, version in (("the canary", canary), ("the champion", champion))
        if version.calls < policy.min_requests
    ]
    if too_few:
        shortfall = f"too little traffic: {' and '.join(too_few)} (min_requests {policy.min_requests})"
        if not extended:
            return Judgement("extend", [f"{shortfall}; the window is extended once by {policy.duration:g}s"])
        return Judgement("rollback", [f"{shortfall} even after the extension"])
    gates = [
        error_gate(policy, canary),
        latency_gate(policy, champion, canary),
        score_gate(policy, champion, canary),
        *quality_gates(policy, champion, canary),
    ]
    failed = [gate for gate in gates if gate.passed is False]
    if failed:
        return Judgement("rollback", [f"gate {gate.name} failed: {gate.detail}" for gate in failed], gates)
    evaluated = [gate.name for gate in gates if gate.passed]
    skipped = [f"{gate.name} not evaluated ({gate.detail})" for gate in gates if gate.passed is None]
    return Judgement("finalize", [f"every gate passed: {', '.join(evaluated)}", *skipped], gates)


def error_gate(policy: Canary, canary: Measured) -> Gate:
    bound = policy.gates.max_error_ratio
    ratio = canary.error_ratio
    detail = f"{canary.failed:.0f} of {canary.calls:.0f} canary calls failed ({ratio:.2%}; at most {bound:.2%})"
    return Gate("error_ratio", ratio, bound, ratio <= bound, detail)


def latency_gate(policy: Canary, champion: Measured, canary: Measured) -> Gate:
    bound = policy.gates.max_latency_p99_ratio
    if not champion.latency_p99 or canary.latency_p99 is None:
        return Gate("latency_p99_ratio", None, bound, None, "no successful call of both versions to time")
    ratio = canary.latency_p99 / champion.latency_p99
    detail = (
        f"canary p99 {canary.latency_p99 * 1000:.1f}ms is {ratio:.2f}x the champion's "
        f"{champion.latency_p99 * 1000:.1f}ms (at most {bound:g}x)"
    )
    return Gate("latency_p99_ratio", ratio, bound, ratio <= bound, detail)


def score_gate(policy: Canary, champion: Measured, canary: Measured) -> Gate:
    bound = policy.gates.max_score_psi
    expected, actual = bin_shares(champion.scores), bin_shares(canary.scores)
    if not expected or not actual or len(expected) != len(actual):
        return Gate("score_psi", None, bound, None, "no scores of both versions in the prediction log")
    value = psi(expected, actual)
    detail = f"PSI of the canary's scores against the champion's is {value:.3f} (at most {bound:g})"
    return Gate("score_psi", value, bound, value <= bound, detail)


def quality_gates(policy: Canary, champion: Measured, canary: Measured) -> list[Gate]:
    bound, needed = policy.gates.max_quality_drop, policy.gates.min_labelled
    gates = []
    for name in ("precision", "recall"):
        gate = f"{name}_drop"
        if champion.labelled < needed or canary.labelled < needed:
            counts = f"{canary.labelled:.0f} canary and {champion.labelled:.0f} champion predictions"
            gates.append(Gate(gate, None, bound, None, f"{counts} have outcomes; min_labelled is {needed}"))
            continue
        mine, theirs = getattr(canary, name)(), getattr(champion, name)()
        if mine is None or theirs is None:
            gates.append(Gate(gate, None, bound, None, f"{name} is undefined (no positive predictions or outcomes)"))
            continue
        drop = theirs - mine
        detail = f"canary {name} {mine:.3f} vs champion {theirs:.3f}: a drop of {drop:.3f} (at most {bound:g})"
        gates.append(Gate(gate, drop, bound, drop <= bound + 1e-9, detail))
    return gates


def bin_shares(cumulative: tuple[tuple[float, float], ...]) -> list[float]:
    """Share of predictions in each bin of a cumulative histogram; empty when it counted nothing."""
    counts, below = [], 0.0
    for _, at_or_below in cumulative:
        counts.append(max(at_or_below - below, 0.0))
        below = max(below, at_or_below)
    total = sum(counts)
    return [count / total for count in counts] if total > 0 else []


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index of two bin-share vectors of equal length."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total
