"""The one promotion policy model (mlp_policy): what it refuses, naming the field, and its round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlp_policy import PolicyError, parse_policy
from mlp_policy.schema import json_schema
from mlp_promoter.errors import PromoterError
from mlp_promoter.policy import load_policy


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({}, "policy.metric"),
        ({"metric": "a", "direction": "up"}, "direction"),
        ({"metric": "a", "min_margin": -1}, "min_margin"),
        ({"metric": "a", "canary_traffic": 100}, "canary_traffic"),
        ({"metric": "a", "thresholds": {"b": 0.5}}, "bare number"),
        ({"metric": "a", "thresholds": {"a": {"least": 1}}}, "{min: x}"),
        ({"metric": "a", "typo": 1}, "unknown fields: typo"),
        ({"metric": "a", "serving": {"max_batch_size": 0}}, "max_batch_size"),
        ({"metric": "a", "max_batch_size": 4, "serving": {"max_batch_size": 4}}, "both"),
        ({"metric": "a", "autoscaling": {"min_replicas": 0}}, "policy.autoscaling.min_replicas"),
        ({"metric": "a", "autoscaling": {"min_replicas": 4, "max_replicas": 2}}, "policy.autoscaling.max_replicas"),
        ({"metric": "a", "autoscaling": {"max_replicas": 3, "target_cpu_utilization": 101}}, "target_cpu_utilization"),
        ({"metric": "a", "autoscaling": {"max_replicas": True}}, "policy.autoscaling.max_replicas"),
        ({"metric": "a", "autoscaling": {"cpu": 70}}, "policy.autoscaling has unknown fields: cpu"),
    ],
)
def test_invalid_policies_are_rejected(policy: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse_policy(policy)


def test_policy_round_trips_through_its_audit_form() -> None:
    policy = parse_policy(
        {"metric": "a", "thresholds": {"a": 0.5, "b": {"max": 2}}, "max_batch_size": 8, "max_batch_time": 0.01}
    )
    assert parse_policy(json.loads(policy.to_json())) == policy
    assert policy.serving.max_batch_size == 8


def test_autoscaling_is_off_unless_its_bounds_differ() -> None:
    assert not parse_policy({"metric": "a"}).autoscaling.enabled
    assert not parse_policy({"metric": "a", "autoscaling": {"min_replicas": 2, "max_replicas": 2}}).autoscaling.enabled
    scaled = parse_policy({"metric": "a", "autoscaling": {"max_replicas": 3}}).autoscaling
    assert scaled.enabled and (scaled.min_replicas, scaled.max_replicas, scaled.target_cpu_utilization) == (1, 3, 70)
    assert parse_policy(json.loads(parse_policy({"metric": "a", "autoscaling": {"max_replicas": 3}}).to_json())) == (
        parse_policy({"metric": "a", "autoscaling": {"max_replicas": 3}})
    )


def test_directions_may_be_spelled_out() -> None:
    assert parse_policy({"metric": "a", "direction": "minimize"}).direction == "min"
    assert parse_policy({"metric": "a", "direction": "maximize"}).direction == "max"


def test_messages_name_the_section_they_come_from() -> None:
    with pytest.raises(PolicyError, match=r"^promotion\.direction must be one of max, min, maximize, minimize"):
        parse_policy({"metric": "a", "direction": "up"}, where="promotion")


def test_the_command_line_turns_a_bad_policy_into_bad_input() -> None:
    with pytest.raises(PromoterError, match=r"policy\.canary_traffic") as raised:
        load_policy(json.dumps({"metric": "a", "canary_traffic": 100}))
    assert raised.value.exit_code == 2


POLICY = Path(__file__).resolve().parents[1] / "policy"
# The policy cases every reader of the policy is held to (the recipe validator's tests and the schema's read them too).
CASES = json.loads((POLICY / "tests" / "cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_promoter_gives_the_shared_policy_verdicts(case: dict[str, object]) -> None:
    document = json.dumps(case["policy"])
    if case["valid"]:
        assert load_policy(document) == parse_policy(case["policy"])
        return
    with pytest.raises(PromoterError) as raised:
        load_policy(document)
    assert raised.value.exit_code == 2 and str(case["error"]) in str(raised.value)


def test_the_committed_schema_is_the_generated_one() -> None:
    committed = json.loads((POLICY / "policy.schema.json").read_text())
    assert committed == json_schema(), (
        "policy.schema.json is stale: regenerate it with "
        "`pipelines/promoter/.venv/bin/python -m mlp_policy.schema > pipelines/promoter/policy/policy.schema.json`"
    )
