"""Window aggregates: correct, and idempotent when Faust replays an input after a crash."""

from __future__ import annotations

from mlstreaming.features.windows import Observation, add_observation, empty_aggregate, summarize


def test_aggregates_count_sum_mean_and_max() -> None:
    aggregate = empty_aggregate()
    for offset, amount in enumerate([10.0, 30.0, 20.0]):
        aggregate = add_observation(aggregate, Observation(amount, 0, offset))
    summary = summarize(aggregate, start=0.0, size=60.0)
    assert (summary["count"], summary["sum"], summary["mean"], summary["max"]) == (3, 60.0, 20.0, 30.0)
    assert (summary["start"], summary["end"]) == ("1970-01-01T00:00:00+00:00", "1970-01-01T00:01:00+00:00")


def test_a_replayed_input_record_is_not_counted_twice() -> None:
    aggregate = add_observation(empty_aggregate(), Observation(5.0, 0, 10))
    aggregate = add_observation(aggregate, Observation(7.0, 1, 3))
    replayed = add_observation(add_observation(aggregate, Observation(5.0, 0, 10)), Observation(7.0, 1, 2))
    assert replayed == aggregate
    assert add_observation(aggregate, Observation(1.0, 0, 11))["count"] == 3


def test_an_empty_window_summarizes_to_zeros() -> None:
    summary = summarize(empty_aggregate(), start=0.0, size=300.0, step=60.0)
    assert (summary["count"], summary["mean"], summary["max"], summary["step_seconds"]) == (0, 0.0, 0.0, 60.0)
