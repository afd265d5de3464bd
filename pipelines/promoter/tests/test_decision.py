"""The decision rules, without a server: thresholds, margin, direction, ties, missing metrics."""

from __future__ import annotations

import pytest
from mlp_policy import parse_policy
from mlp_promoter.decision import Champion, RunSummary, best_run, decide, newest_run
from mlp_promoter.errors import PromoterError

ACC = parse_policy({"metric": "accuracy", "thresholds": {"accuracy": 0.8}, "min_margin": 0.01})
RMSE = parse_policy({"metric": "rmse", "direction": "min", "thresholds": {"rmse": {"max": 1.0}}})


def run(run_id: str, start: int = 0, **metrics: float) -> RunSummary:
    return RunSummary(run_id, start, metrics)


def test_best_run_follows_direction_and_prefers_the_newest_among_equals() -> None:
    runs = [run("a", 1, accuracy=0.9), run("b", 2, accuracy=0.95), run("c", 3, accuracy=0.95), run("d", 4)]
    best, notes = best_run(runs, ACC, "exp")
    assert best.run_id == "c"
    assert any("1 FINISHED runs without accuracy" in note for note in notes)
    lowest, _ = best_run([run("a", rmse=0.5), run("b", rmse=0.3)], RMSE, "exp")
    assert lowest.run_id == "b"


def test_missing_metric_and_no_runs_are_errors() -> None:
    with pytest.raises(PromoterError, match="logged the metric 'accuracy'"):
        best_run([run("a", loss=1.0)], ACC, "exp")
    with pytest.raises(PromoterError, match="no FINISHED run"):
        best_run([], ACC, "exp")


@pytest.mark.parametrize(
    ("value", "champion", "promote", "word"),
    [
        (0.90, None, True, "no champion yet"),
        (0.95, 0.90, True, "beats the champion"),
        (0.905, 0.90, False, "below the margin"),
        (0.91, 0.90, True, "beats the champion"),  # exactly the margin, despite float noise
        (0.90, 0.90, False, "equal to"),
        (0.85, 0.90, False, "worse than"),
        (0.70, None, False, "below the minimum 0.8"),
    ],
)
def test_decide_max(value: float, champion: float | None, promote: bool, word: str) -> None:
    champ = Champion("1", "r0", champion) if champion is not None else None
    verdict = decide(ACC, run("r1", accuracy=value), champ)
    assert verdict.promote is promote
    assert word in " ".join(verdict.reasons)


def test_decide_min_direction_and_threshold_on_other_metric() -> None:
    policy = parse_policy(
        {"metric": "rmse", "direction": "min", "thresholds": {"latency_ms": {"max": 20}}, "min_margin": 0.05}
    )
    assert decide(policy, run("r", rmse=0.4, latency_ms=10), Champion("1", "x", 0.5)).promote
    assert not decide(policy, run("r", rmse=0.48, latency_ms=10), Champion("1", "x", 0.5)).promote
    assert not decide(policy, run("r", rmse=0.6, latency_ms=10), Champion("1", "x", 0.5)).promote
    slow = decide(policy, run("r", rmse=0.1, latency_ms=30), Champion("1", "x", 0.5))
    assert not slow.promote and "above the maximum 20" in slow.reasons[0]
    missing = decide(policy, run("r", rmse=0.1), None)
    assert not missing.promote and "latency_ms was not logged" in missing.reasons[0]


def test_live_comparison_takes_the_newest_run_and_needs_only_the_thresholds() -> None:
    runs = [run("old-best", 1, accuracy=0.99), run("retrained", 5, accuracy=0.85), run("unscored", 9)]
    newest, notes = newest_run(runs, ACC, "exp")
    assert newest.run_id == "retrained" and "trained on the current data" in notes[0]
    # Worse than the champion offline, yet it challenges it live: the two metrics come from different data.
    live = decide(ACC, newest, Champion("3", "old-best", 0.99), live=True)
    assert live.promote and "challenges champion version 3 on live traffic" in live.reasons[-1]
    assert not decide(ACC, newest, Champion("3", "old-best", 0.99)).promote
    # The thresholds still hold, and without a champion there is nothing to challenge.
    assert not decide(ACC, run("bad", accuracy=0.5), Champion("3", "x", 0.99), live=True).promote
    assert "no champion yet" in " ".join(decide(ACC, newest, None, live=True).reasons)
    with pytest.raises(PromoterError, match="logged the metric 'accuracy'"):
        newest_run([run("a", loss=1.0)], ACC, "exp")
