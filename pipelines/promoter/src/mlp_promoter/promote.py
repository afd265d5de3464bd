"""Carry out a decision: register, tag, move aliases, publish (Seldon manifests or local MLServer).

Order matters for safety: a rollout is published before `champion` moves, so the registry never
names a champion that is not being served; a rerun with nothing new writes nothing.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any

from mlflow.entities.model_registry import ModelVersion
from mlp_policy import Policy

from mlp_promoter.decision import best_run, decide, newest_run
from mlp_promoter.errors import PromoterError, RolloutError
from mlp_promoter.judge import judge as decide_canary
from mlp_promoter.measure import by_version, measure
from mlp_promoter.policy import checked
from mlp_promoter.registry import CHALLENGER, CHAMPION, Registry, now, tag
from mlp_promoter.targets import Rollout, Target


def publish(
    registry: Registry, target: Target, versions: list[tuple[ModelVersion, int]], policy: Policy
) -> dict[str, Any]:
    """Serve `versions` (version, traffic %) through `target`, as `policy` says (batching, autoscaling); the first
    one is the stable champion."""
    rollouts = [Rollout(str(v.version), registry.artifact_location(v), share) for v, share in versions]
    return target.publish(registry.model_name, rollouts, policy)


def promote(
    registry: Registry,
    experiment: str,
    policy: Policy,
    target: Target,
    artifact: str | None = None,
    compare: str = "offline",
) -> dict[str, Any]:
    """Decide on the experiment's candidate and roll it out. `compare` is "offline" (the best run must beat the
    champion's metric by the margin) or "live" (the newest run challenges the champion as a canary; decision.py)."""
    experiment_id = registry.experiment_id(experiment)
    runs = registry.finished_runs(experiment_id)
    champion = registry.champion(policy.metric)
    # Live comparison needs a champion to compare with and a canary to compare on; otherwise the offline rule.
    live = compare == "live" and champion is not None and _promotion_kind(policy, True, target) == "canary"
    # A rolled-back version's run stays the best by its offline metric; it must not block the runs after it.
    withdrawn = registry.rolled_back_runs()
    candidates = [run for run in runs if run.run_id not in withdrawn] or runs
    best, notes = (newest_run if live else best_run)(candidates, policy, experiment)
    if len(candidates) < len(runs):
        notes.append(f"{len(runs) - len(candidates)} runs whose versions were rolled back are no candidates")
    if compare == "live" and not live:
        notes.append("live comparison asked, but without a champion or a canary it is offline")
    result: dict[str, Any] = {
        "model_name": registry.model_name,
        "experiment": experiment,
        "run_id": best.run_id,
        "metric": policy.metric,
        "direction": policy.direction,
        "target": target.name,
        "dry_run": target.dry_run,
    }
    result["champion_version"] = champion.version if champion else None
    existing = registry.version_of_run(best.run_id)

    unchanged = _unchanged_reason(registry, best.run_id, champion.version if champion else None, existing, policy)
    if unchanged:
        return {
            **result,
            "decision": "unchanged",
            "promoted": False,
            "version": str(existing.version) if existing else champion.version if champion else None,
            "candidate_value": best.metrics[policy.metric],
            "champion_value": champion.value if champion else None,
            "reasons": [*notes, unchanged],
        }

    verdict = decide(policy, best, champion, live=live)
    reasons = [*notes, *verdict.reasons]
    result |= {"candidate_value": verdict.candidate_value, "champion_value": verdict.champion_value}
    model = registry.logged_model(experiment_id, best.run_id, artifact)
    if target.dry_run:
        decision = "rejected" if not verdict.promote else _promotion_kind(policy, champion is not None, target)
        result |= {"decision": decision, "promoted": verdict.promote, "version": None, "reasons": reasons}
        if verdict.promote:
            # Not registered in a dry run: the manifest names the candidate by its logged model.
            placeholder = ModelVersion(
                registry.model_name, "candidate", 0, source=f"models:/{model.model_id}", model_id=model.model_id
            )
            versions = _predictors(registry, policy, champion, placeholder, target)
            result |= publish(registry, target, versions, policy)
        return result

    version = existing or registry.register(model, best.run_id)
    number = str(version.version)
    audit: dict[str, object] = {
        "metric": policy.metric,
        "direction": policy.direction,
        "candidate_value": repr(verdict.candidate_value),
        "champion_version": champion.version if champion else "none",
        "champion_value": repr(verdict.champion_value) if verdict.champion_value is not None else "none",
        "min_margin": repr(policy.min_margin),
        "comparison": "live" if live else "offline",
        "policy": policy.to_json(),
        "source_run_id": best.run_id,
        "target": target.name,
        "reasons": reasons,
        "decided_at": now(),
    }
    if not verdict.promote:
        registry.write_tags(number, {**audit, "decision": "rejected"})
        return {**result, "decision": "rejected", "promoted": False, "version": number, "reasons": reasons}

    kind = _promotion_kind(policy, champion is not None, target)
    registry.write_tags(number, {**audit, "decision": "rolling_out"})
    registry.set_alias(CHALLENGER, number)
    try:
        versions = _predictors(registry, policy, champion, version, target)
        published = publish(registry, target, versions, policy)
    except Exception as exc:  # whatever failed, the registry must not claim a rollout
        registry.drop_alias(CHALLENGER)
        registry.write_tags(number, {"decision": "rollout_failed", "decided_at": now()})
        if isinstance(exc, RolloutError):
            raise
        raise RolloutError(f"rolling out version {number} failed ({type(exc).__name__}: {exc})") from exc
    if kind == "canary" and champion is not None:  # a canary always has a champion beside it
        registry.write_tags(
            number, {"decision": "canary", "canary_traffic": str(policy.canary_traffic), "canary_started_at": now()}
        )
        reasons.append(
            f"canary: version {number} takes {policy.canary_traffic}% beside champion version {champion.version}; "
            f"`mlp-promote judge` decides after {policy.canary.duration:g}s of live traffic"
        )
    else:
        _crown(registry, number, champion.version if champion else None)
    return {**result, "decision": kind, "promoted": True, "version": number, "reasons": reasons, **published}


def finalize(registry: Registry, target: Target) -> dict[str, Any]:
    """The canary takes all traffic and becomes the champion."""
    challenger = _challenger(registry)
    number = str(challenger.version)
    champion = registry.alias(CHAMPION)
    policy = _stored_policy(challenger)
    published = publish(registry, target, [(challenger, 100)], policy)
    if not target.dry_run:
        _crown(registry, number, str(champion.version) if champion else None)
        registry.write_tags(number, {"finalized_at": now()})
    return {
        "model_name": registry.model_name,
        "decision": "finalized",
        "version": number,
        "previous_champion": str(champion.version) if champion else None,
        "dry_run": target.dry_run,
        "reasons": [f"canary version {number} finalized: it takes all traffic and is the champion"],
        **published,
    }


def rollback(registry: Registry, target: Target, reason: str) -> dict[str, Any]:
    """The canary is withdrawn; the champion takes all traffic again and stays champion."""
    challenger = _challenger(registry)
    number = str(challenger.version)
    champion = registry.alias(CHAMPION)
    published: dict[str, Any] = {}
    if champion is not None:
        published = publish(registry, target, [(champion, 100)], _stored_policy(champion))
    if not target.dry_run:
        registry.drop_alias(CHALLENGER)
        registry.write_tags(number, {"decision": "rolled_back", "rolled_back_at": now(), "rollback_reason": reason})
    return {
        "model_name": registry.model_name,
        "decision": "rolled_back",
        "version": number,
        "champion_version": str(champion.version) if champion else None,
        "dry_run": target.dry_run,
        "reasons": [f"canary version {number} rolled back: {reason}"],
        **published,
    }


def judge(registry: Registry, target: Target, prometheus_url: str, *, wait: bool) -> dict[str, Any]:
    """End the canary in progress by its live traffic: finalize, roll back, or (once) extend its window.

    The window starts when the canary did (`canary_started_at`) and lasts the policy's `canary.duration`. With
    `wait` the judge sleeps until the window is over (and through one extension); without, it answers
    `pending` while the window is open. Every judgement is written on the canary's version as `judgement`.
    """
    challenger = registry.alias(CHALLENGER)
    base: dict[str, Any] = {"model_name": registry.model_name, "dry_run": target.dry_run}
    if challenger is None:
        reason = f"model {registry.model_name!r} has no canary in progress (no '{CHALLENGER}' alias): nothing to judge"
        return {**base, "decision": "no_canary", "reasons": [reason]}
    number = str(challenger.version)
    champion = registry.alias(CHAMPION)
    if champion is None:
        raise PromoterError(f"canary version {number} of {registry.model_name!r} has no champion to be judged against")
    stable = str(champion.version)
    policy = _stored_policy(challenger)
    started = _when(challenger.tags.get(tag("canary_started_at")) or challenger.tags.get(tag("decided_at")))
    extended = bool(challenger.tags.get(tag("judge_extended_at")))
    while True:
        ends = started + policy.canary.duration * (2 if extended else 1)
        if time.time() < ends:
            if not wait:
                left = ends - time.time()
                return {
                    **base,
                    "decision": "pending",
                    "version": number,
                    "remaining_seconds": round(left),
                    "reasons": [f"canary version {number} is judged in {left:.0f}s"],
                }
            _sleep_until(ends, f"canary version {number} of {registry.model_name}")
        window = max(int(time.time() - started), 1)
        measured = measure(prometheus_url, registry.model_name, [stable, number], window)
        verdict = decide_canary(policy.canary, measured[stable], measured[number], extended=extended)
        record = {
            **verdict.to_dict(),
            "window_seconds": window,
            "champion_version": stable,
            "measured": by_version(measured),
        }
        if target.dry_run:
            return {
                **base,
                "decision": f"would_{verdict.decision}",
                "version": number,
                "judgement": record,
                "reasons": verdict.reasons,
            }
        if verdict.decision == "extend":
            registry.write_tags(number, {"judge_extended_at": now(), "judgement": record})
            if not wait:
                return {
                    **base,
                    "decision": "extended",
                    "version": number,
                    "judgement": record,
                    "reasons": verdict.reasons,
                }
            extended = True
            continue
        registry.write_tags(number, {"judgement": record, "judged_at": now()})
        if verdict.decision == "finalize":
            result = finalize(registry, target)
        else:
            result = rollback(registry, target, "judge: " + "; ".join(verdict.reasons))
        return {**result, "judgement": record, "reasons": [*result["reasons"], *verdict.reasons]}


# -- helpers ---------------------------------------------------------------------------------------
def _when(text: str | None) -> float:
    if not text:
        raise PromoterError("the canary's version has no canary_started_at tag: it was not started by mlp-promote")
    return datetime.fromisoformat(text).timestamp()


def _sleep_until(deadline: float, what: str, every: float = 30.0) -> None:
    """Sleep until `deadline`, saying on stderr how long is left (the task log shows the judge is alive)."""
    while (left := deadline - time.time()) > 0:
        print(f"judging {what} in {left:.0f}s", file=sys.stderr, flush=True)
        time.sleep(min(every, left))


def _unchanged_reason(
    registry: Registry, run_id: str, champion: str | None, existing: ModelVersion | None, policy: Policy
) -> str | None:
    """Why a rerun has nothing to do, or None when there is something new to decide."""
    challenger = registry.alias(CHALLENGER)
    if existing is None:
        if challenger is not None:
            return (
                f"version {challenger.version} is still the canary; finalize or roll it back before promoting another"
            )
        return None
    number = str(existing.version)
    if champion == number:
        return f"run {run_id} is already the champion (version {number}); nothing to do"
    if challenger is not None and str(challenger.version) == number:
        return f"version {number} is the canary in progress; run `mlp-promote finalize` or `mlp-promote rollback`"
    tags = existing.tags
    if challenger is not None:
        return (
            f"version {challenger.version} is still the canary; finalize or roll it back before promoting "
            f"version {number}"
        )
    decision = tags.get(tag("decision"))
    if decision == "rolled_back":
        return f"version {number} (run {run_id}) was rolled back; it is not promoted again"
    if (
        decision == "rejected"
        and tags.get(tag("champion_version")) == (champion or "none")
        and tags.get(tag("policy")) == policy.to_json()
    ):
        return (
            f"version {number} (run {run_id}) was already rejected against the same champion and policy: "
            f"{', '.join(json.loads(tags.get(tag('reasons'), '[]'))[-1:])}"
        )
    return None


def _promotion_kind(policy: Policy, has_champion: bool, target: Target) -> str:
    canary = target.canary and has_champion and policy.canary_traffic > 0
    return "canary" if canary else "promoted"


def _predictors(
    registry: Registry, policy: Policy, champion: Any, version: ModelVersion, target: Target
) -> list[tuple[ModelVersion, int]]:
    if champion is None or policy.canary_traffic == 0 or not target.canary:
        return [(version, 100)]
    stable = registry.version(champion.version)
    return [(stable, 100 - policy.canary_traffic), (version, policy.canary_traffic)]


def _crown(registry: Registry, number: str, previous: str | None) -> None:
    """`challenger` was set before the rollout; now `champion` moves and `challenger` is spent."""
    registry.set_alias(CHAMPION, number)
    registry.drop_alias(CHALLENGER)
    registry.write_tags(number, {"decision": "promoted", "previous_champion": previous or "none", "promoted_at": now()})


def _challenger(registry: Registry) -> ModelVersion:
    version = registry.alias(CHALLENGER)
    if version is None:
        raise PromoterError(f"model {registry.model_name!r} has no canary in progress (no '{CHALLENGER}' alias)")
    return version


def _stored_policy(version: ModelVersion) -> Policy:
    text = version.tags.get(tag("policy"))
    if not text:
        return Policy(metric="unknown")
    return checked(json.loads(text))
