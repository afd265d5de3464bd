"""Carry out a decision: register, tag, move aliases, publish (Seldon manifests or local MLServer).

Order matters for safety: a rollout is published before `champion` moves, so the registry never
names a champion that is not being served; a rerun with nothing new writes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from mlflow.entities.model_registry import ModelVersion
from mlp_policy import Policy, Serving

from mlp_promoter.decision import best_run, decide
from mlp_promoter.errors import PromoterError, RolloutError
from mlp_promoter.policy import checked
from mlp_promoter.registry import CHALLENGER, CHAMPION, Registry, now, tag
from mlp_promoter.targets import Rollout, Target


def publish(
    registry: Registry, target: Target, versions: list[tuple[ModelVersion, int]], serving: Serving
) -> dict[str, Any]:
    """Serve `versions` (version, traffic %) through `target`; the first one is the stable champion."""
    rollouts = [Rollout(str(v.version), registry.artifact_location(v), share) for v, share in versions]
    return target.publish(registry.model_name, rollouts, serving)


def promote(
    registry: Registry, experiment: str, policy: Policy, target: Target, artifact: str | None = None
) -> dict[str, Any]:
    experiment_id = registry.experiment_id(experiment)
    best, notes = best_run(registry.finished_runs(experiment_id), policy, experiment)
    result: dict[str, Any] = {
        "model_name": registry.model_name,
        "experiment": experiment,
        "run_id": best.run_id,
        "metric": policy.metric,
        "direction": policy.direction,
        "target": target.name,
        "dry_run": target.dry_run,
    }
    champion = registry.champion(policy.metric)
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

    verdict = decide(policy, best, champion)
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
            result |= publish(registry, target, versions, policy.serving)
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
        published = publish(registry, target, versions, policy.serving)
    except Exception as exc:  # whatever failed, the registry must not claim a rollout
        registry.drop_alias(CHALLENGER)
        registry.write_tags(number, {"decision": "rollout_failed", "decided_at": now()})
        if isinstance(exc, RolloutError):
            raise
        raise RolloutError(f"rolling out version {number} failed ({type(exc).__name__}: {exc})") from exc
    if kind == "canary":
        registry.write_tags(number, {"decision": "canary", "canary_traffic": str(policy.canary_traffic)})
        reasons.append(
            f"canary: version {number} takes {policy.canary_traffic}% beside champion version {champion.version}; "
            "run `mlp-promote finalize` or `mlp-promote rollback`"
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
    published = publish(registry, target, [(challenger, 100)], policy.serving)
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
        published = publish(registry, target, [(champion, 100)], _stored_policy(champion).serving)
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


# -- helpers ---------------------------------------------------------------------------------------
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
