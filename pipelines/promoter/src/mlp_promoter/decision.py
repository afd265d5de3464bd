"""The pure decision: which run is the candidate, and whether it may replace the champion.

Two comparisons with the champion. Offline (a manual or scheduled run): the best run by the policy's metric must
beat the champion's metric by the margin. Live (a run started by new data or by a drift or quality signal): the
champion's metric was measured on data that no longer describes the traffic, so the newest run, trained on the
current data, needs only the thresholds and challenges the champion as a canary; the judge then compares both on
the same live traffic.

No MLflow here, so every rule is tested without a server; `promote.py` feeds it what the registry
holds and carries out what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mlp_policy import Policy

from mlp_promoter.errors import PromoterError

# Float noise (0.1 + 0.2) must not decide between "beats by the margin" and "falls short".
_EPSILON = 1e-9


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    start_time: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class Champion:
    version: str
    run_id: str | None
    value: float | None


@dataclass
class Verdict:
    promote: bool
    reasons: list[str] = field(default_factory=list)
    candidate_value: float | None = None
    champion_value: float | None = None


def best_run(runs: Iterable[RunSummary], policy: Policy, experiment: str) -> tuple[RunSummary, list[str]]:
    """The best finished run by the policy metric; among equals the newest, so a retrain is audited."""
    runs = list(runs)
    if not runs:
        raise PromoterError(f"experiment {experiment!r} has no FINISHED run to promote")
    scored = [run for run in runs if policy.metric in run.metrics]
    if not scored:
        raise PromoterError(
            f"no FINISHED run of experiment {experiment!r} logged the metric {policy.metric!r} "
            f"({len(runs)} runs checked); check policy.metric"
        )
    sign = 1.0 if policy.direction == "max" else -1.0
    best = max(scored, key=lambda run: (sign * run.metrics[policy.metric], run.start_time))
    notes = [
        f"best of {len(scored)} FINISHED runs by {policy.metric} ({policy.direction}): run {best.run_id} "
        f"with {policy.metric}={best.metrics[policy.metric]:g}"
    ]
    if len(scored) < len(runs):
        notes.append(f"{len(runs) - len(scored)} FINISHED runs without {policy.metric} were ignored")
    return best, notes


#: How a candidate is compared with the champion (module docstring).
COMPARISONS = ("offline", "live")


def newest_run(runs: Iterable[RunSummary], policy: Policy, experiment: str) -> tuple[RunSummary, list[str]]:
    """The newest finished run that logged the policy metric: what a retraining on new data just produced."""
    runs = list(runs)
    scored = [run for run in runs if policy.metric in run.metrics]
    if not scored:
        best_run(runs, policy, experiment)  # raises the error that names what is missing
    newest = max(scored, key=lambda run: run.start_time)
    return newest, [f"newest of {len(scored)} FINISHED runs: run {newest.run_id}, trained on the current data"]


def decide(policy: Policy, candidate: RunSummary, champion: Champion | None, *, live: bool = False) -> Verdict:
    """Promote only above every absolute bar and, offline, ahead of the champion by at least the margin; live,
    the candidate challenges the champion on live traffic instead (module docstring)."""
    value = candidate.metrics[policy.metric]
    verdict = Verdict(promote=False, candidate_value=value, champion_value=champion.value if champion else None)
    failures = []
    for metric, bound in sorted(policy.thresholds.items()):
        if metric not in candidate.metrics:
            failures.append(f"threshold metric {metric} was not logged by run {candidate.run_id}")
            continue
        problem = bound.violation(metric, candidate.metrics[metric])
        if problem:
            failures.append(problem)
    if failures:
        verdict.reasons = [f"fails the policy thresholds: {'; '.join(failures)}"]
        return verdict
    if policy.thresholds:
        verdict.reasons.append(f"passes the thresholds on {', '.join(sorted(policy.thresholds))}")
    if champion is None:
        verdict.promote = True
        verdict.reasons.append("there is no champion yet")
        return verdict
    if champion.value is None:
        # The champion cannot be compared (its run lacks the metric, e.g. after a policy change):
        # the candidate cleared every absolute bar, which is all the policy can check.
        verdict.promote = True
        verdict.reasons.append(f"champion version {champion.version} has no {policy.metric} to compare with")
        return verdict
    if live:
        verdict.promote = True
        verdict.reasons.append(
            f"challenges champion version {champion.version} on live traffic: started by new data or a signal, so "
            f"its {policy.metric}={value:g} and the champion's {champion.value:g} come from different data"
        )
        return verdict
    improvement = policy.improvement(value, champion.value)
    comparison = f"{policy.metric}={value:g} vs champion version {champion.version} {policy.metric}={champion.value:g}"
    if improvement <= _EPSILON:
        word = "equal to" if abs(improvement) <= _EPSILON else "worse than"
        verdict.reasons.append(f"not better: {comparison} ({word} the champion)")
    elif improvement + _EPSILON < policy.min_margin:
        verdict.reasons.append(f"better by {improvement:g} but below the margin {policy.min_margin:g}: {comparison}")
    else:
        verdict.promote = True
        verdict.reasons.append(f"beats the champion by {improvement:g} (margin {policy.min_margin:g}): {comparison}")
    return verdict
