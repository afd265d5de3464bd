"""The canary judge's gates and outcomes, on recorded measurements and a recorded Prometheus answer."""

from __future__ import annotations

import math

import pytest
from mlp_policy import Canary, Gates, PolicyError, parse_policy
from mlp_promoter.judge import Measured, bin_shares, judge, psi
from mlp_promoter.measure import measure, queries

POLICY = Canary(duration=60, min_requests=20, gates=Gates(min_labelled=10))
# Cumulative score histograms (le, count) as the exporter's mlp_model_prediction_bucket increases give them.
LOW = ((0.1, 80.0), (0.5, 95.0), (1.0, 100.0), (math.inf, 100.0))
HIGH = ((0.1, 5.0), (0.5, 20.0), (1.0, 100.0), (math.inf, 100.0))
CHAMPION = Measured(calls=200, failed=0, latency_p99=0.02, scores=LOW)


def test_a_canary_like_its_champion_is_finalized() -> None:
    canary = Measured(calls=50, failed=0, latency_p99=0.025, scores=LOW)
    verdict = judge(POLICY, CHAMPION, canary, extended=False)
    assert verdict.decision == "finalize", verdict.reasons
    assert {g.name: g.passed for g in verdict.gates} == {
        "error_ratio": True,
        "latency_p99_ratio": True,
        "score_psi": True,
        "precision_drop": None,  # no outcomes yet: not evaluated, and said so
        "recall_drop": None,
    }
    assert any("precision_drop not evaluated" in r for r in verdict.reasons)


@pytest.mark.parametrize(
    ("canary", "gate"),
    [
        (Measured(calls=50, failed=10, latency_p99=0.02, scores=LOW), "error_ratio"),
        (Measured(calls=50, failed=0, latency_p99=0.2, scores=LOW), "latency_p99_ratio"),
        (Measured(calls=50, failed=0, latency_p99=0.02, scores=HIGH), "score_psi"),
    ],
)
def test_a_bad_canary_is_rolled_back_naming_the_gate(canary: Measured, gate: str) -> None:
    verdict = judge(POLICY, CHAMPION, canary, extended=False)
    assert verdict.decision == "rollback"
    assert [g.name for g in verdict.failed] == [gate]
    assert verdict.reasons[0].startswith(f"gate {gate} failed: ")


def test_online_quality_compares_precision_and_recall_once_labelled() -> None:
    good = {"true_positive": 8, "false_positive": 2, "false_negative": 2, "true_negative": 88}
    worse = {"true_positive": 4, "false_positive": 6, "false_negative": 6, "true_negative": 84}
    champion = Measured(calls=200, latency_p99=0.02, scores=LOW, outcomes=good)
    verdict = judge(POLICY, champion, Measured(calls=50, latency_p99=0.02, scores=LOW, outcomes=worse), extended=False)
    assert {g.name for g in verdict.failed} == {"precision_drop", "recall_drop"}
    gate = verdict.failed[0]
    assert gate.value == pytest.approx(0.4) and "canary precision 0.400 vs champion 0.800" in gate.detail


def test_too_little_traffic_extends_once_then_rolls_back() -> None:
    quiet = Measured(calls=5, latency_p99=0.02, scores=LOW)
    first = judge(POLICY, CHAMPION, quiet, extended=False)
    assert first.decision == "extend" and "the canary made 5 model calls" in first.reasons[0]
    second = judge(POLICY, CHAMPION, quiet, extended=True)
    assert second.decision == "rollback" and "too little traffic" in second.reasons[0]


def test_psi_of_score_histograms() -> None:
    assert bin_shares(LOW) == [0.8, 0.15, 0.05, 0.0]
    assert psi(bin_shares(LOW), bin_shares(LOW)) == 0
    assert psi(bin_shares(LOW), bin_shares(HIGH)) > 1
    assert bin_shares(()) == []


def test_measurements_come_from_one_set_of_queries() -> None:
    """A recorded Prometheus answer per query becomes each version's Measured."""
    recorded = {
        "calls": [({"version": "3"}, 120.0), ({"version": "4"}, 30.0)],
        "failed": [({"version": "4"}, 3.0)],
        "latency_p99": [({"version": "3"}, 0.01), ({"version": "4"}, float("nan"))],
        "scores": [
            ({"version": "3", "le": "0.5"}, 100.0),
            ({"version": "3", "le": "+Inf"}, 120.0),
            ({"version": "4", "le": "+Inf"}, 30.0),
            ({"version": "4", "le": "0.5"}, 10.0),
        ],
        "outcomes": [({"version": "3", "outcome": "true_positive"}, 7.0)],
    }
    promql = queries("fraud-detector", ["3", "4"], 300)
    assert 'model="fraud-detector", version=~"3|4"' in promql["calls"] and "[300s]" in promql["calls"]
    by_query = {text: recorded[name] for name, text in promql.items()}
    measured = measure("http://prometheus", "fraud-detector", ["3", "4"], 300, query=lambda _, q: by_query[q])
    assert measured["4"] == Measured(calls=30, failed=3, latency_p99=None, scores=((0.5, 10.0), (math.inf, 30.0)))
    assert measured["3"].outcomes == {"true_positive": 7.0} and measured["3"].scores[0] == (0.5, 100.0)


def test_the_canary_section_of_a_policy() -> None:
    policy = parse_policy(
        {"metric": "auc", "canary": {"duration": "2m", "min_requests": 5, "gates": {"max_score_psi": 0.5}}}
    )
    assert policy.canary == Canary(duration=120.0, min_requests=5, gates=Gates(max_score_psi=0.5))
    assert parse_policy(policy.to_dict()) == policy
    for bad, message in [
        ({"duration": "soon"}, "canary.duration must be seconds or a duration"),
        ({"duration": 0}, "canary.duration must be positive"),
        ({"min_requests": 0}, "canary.min_requests must be an integer >= 1"),
        ({"gates": {"max_errors": 1}}, "canary.gates has unknown fields: max_errors"),
        ({"gates": {"max_score_psi": -1}}, "canary.gates.max_score_psi must be >= 0"),
        ({"window": 1}, "canary has unknown fields: window"),
    ]:
        with pytest.raises(PolicyError, match=message):
            parse_policy({"metric": "auc", "canary": bad}, where="promotion")
