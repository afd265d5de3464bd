"""Promotion decisions against the real tracking server: each case asserts the aliases and tags left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.promotion.helpers import Worker, aliases, audit, promote, promote_best, unique, versions

POLICY = json.dumps({"metric": "accuracy", "thresholds": {"accuracy": 0.8}, "min_margin": 0.01, "canary_traffic": 20})


def run_promoter(tracking_uri: str, experiment: str, model: str, out: Path, *extra: str) -> dict[str, object]:
    outcome = promote_best(
        tracking_uri,
        experiment,
        model,
        POLICY,
        "seldon",
        "--output-dir",
        str(out),
        *extra,
    )
    assert outcome.code == 0, outcome.stderr[-3000:]
    assert outcome.decision is not None
    return outcome.decision


def test_first_model_becomes_champion_and_a_rerun_changes_nothing(
    tracking_uri: str, worker: Worker, client: MlflowClient, tmp_path: Path
) -> None:
    experiment, model = unique("first"), unique("first-model")
    (run_id,) = worker.train(experiment, {"seed": 1, "metrics": {"accuracy": 0.9}})

    decision = run_promoter(tracking_uri, experiment, model, tmp_path)
    assert decision["decision"] == "promoted" and decision["version"] == "1" and decision["run_id"] == run_id
    assert "there is no champion yet" in decision["reasons"]
    assert aliases(client, model) == {"champion": "1"}  # no canary without a champion: challenger is spent
    tags = audit(client, model, "1")
    assert tags["decision"] == "promoted"
    assert tags["candidate_value"] == "0.9" and tags["champion_version"] == "none"
    assert tags["source_run_id"] == run_id and json.loads(tags["policy"])["metric"] == "accuracy"
    assert "there is no champion yet" in json.loads(tags["reasons"]) and tags["decided_at"]
    assert (tmp_path / f"{model}.seldondeployment.yaml").exists()

    again = run_promoter(tracking_uri, experiment, model, tmp_path)
    assert again["decision"] == "unchanged" and again["promoted"] is False
    assert "already the champion" in again["reasons"][-1]
    assert audit(client, model, "1") == tags
    assert versions(client, model) == ["1"] and aliases(client, model) == {"champion": "1"}


def test_better_model_goes_canary_then_finalize_and_rollback(
    tracking_uri: str, worker: Worker, client: MlflowClient, tmp_path: Path
) -> None:
    experiment, model = unique("better"), unique("better-model")
    worker.train(experiment, {"seed": 1, "metrics": {"accuracy": 0.85}})
    run_promoter(tracking_uri, experiment, model, tmp_path)
    worker.train(experiment, {"seed": 2, "metrics": {"accuracy": 0.9}})

    canary = run_promoter(tracking_uri, experiment, model, tmp_path)
    assert canary["decision"] == "canary" and canary["version"] == "2"
    assert aliases(client, model) == {"champion": "1", "challenger": "2"}
    tags = audit(client, model, "2")
    assert tags["decision"] == "canary" and tags["canary_traffic"] == "20"
    assert tags["champion_version"] == "1" and tags["champion_value"] == "0.85" and tags["candidate_value"] == "0.9"
    assert any("beats the champion by 0.05" in reason for reason in json.loads(tags["reasons"]))
    # A rerun while the canary runs neither re-registers nor moves anything.
    assert run_promoter(tracking_uri, experiment, model, tmp_path)["decision"] == "unchanged"
    assert versions(client, model) == ["1", "2"]

    final = promote(
        tracking_uri, "finalize", "--model-name", model, "--target", "seldon", "--output-dir", str(tmp_path)
    )
    assert final.code == 0, final.stderr
    assert aliases(client, model) == {"champion": "2"}
    tags = audit(client, model, "2")
    assert tags["decision"] == "promoted" and tags["previous_champion"] == "1" and tags["finalized_at"]

    worker.train(experiment, {"seed": 3, "metrics": {"accuracy": 0.95}})
    assert run_promoter(tracking_uri, experiment, model, tmp_path)["decision"] == "canary"
    back = promote(
        tracking_uri,
        "rollback",
        "--model-name",
        model,
        "--reason",
        "error rate up",
        "--target",
        "seldon",
        "--output-dir",
        str(tmp_path),
    )
    assert back.code == 0, back.stderr
    assert aliases(client, model) == {"champion": "2"}
    tags = audit(client, model, "3")
    assert tags["decision"] == "rolled_back" and tags["rollback_reason"] == "error rate up"
    # A rolled-back version is not promoted again by a rerun, and is no candidate for the runs after it.
    again = run_promoter(tracking_uri, experiment, model, tmp_path)
    assert again["decision"] == "unchanged" and again["run_id"] != tags["source_run_id"], again
    assert "1 runs whose versions were rolled back are no candidates" in again["reasons"]
    assert aliases(client, model) == {"champion": "2"}
    nothing = promote(tracking_uri, "finalize", "--model-name", model, "--target", "seldon", "--dry-run")
    assert nothing.code == 2 and "no canary in progress" in nothing.stderr
    worker.train(experiment, {"seed": 4, "metrics": {"accuracy": 0.92}})  # better than the champion, not run 3
    assert run_promoter(tracking_uri, experiment, model, tmp_path)["decision"] == "canary"


def test_worse_model_is_never_promoted(tracking_uri: str, worker: Worker, client: MlflowClient, tmp_path: Path) -> None:
    experiment, model = unique("worse"), unique("worse-model")
    champion_run, _ = worker.train(
        experiment, {"seed": 1, "metrics": {"accuracy": 0.92}}, {"seed": 2, "metrics": {"accuracy": 0.88}}
    )
    assert run_promoter(tracking_uri, experiment, model, tmp_path)["run_id"] == champion_run
    # A worse retrain in the same experiment: the best run is still the champion's.
    worker.train(experiment, {"seed": 3, "metrics": {"accuracy": 0.85}})
    same = run_promoter(tracking_uri, experiment, model, tmp_path)
    assert same["decision"] == "unchanged" and same["run_id"] == champion_run
    # A worse model from another experiment is compared with the champion and rejected, on record.
    other = unique("worse-other")
    worker.train(other, {"seed": 4, "metrics": {"accuracy": 0.86}})
    worse = run_promoter(tracking_uri, other, model, tmp_path)
    assert worse["decision"] == "rejected" and worse["promoted"] is False and worse["version"] == "2"
    assert aliases(client, model) == {"champion": "1"}
    tags = audit(client, model, "2")
    assert tags["decision"] == "rejected" and tags["champion_value"] == "0.92"
    assert "worse than the champion" in tags["reasons"]


def test_a_retraining_started_by_new_data_or_a_signal_challenges_the_champion_live(
    tracking_uri: str, worker: Worker, client: MlflowClient, tmp_path: Path
) -> None:
    experiment, model = unique("live"), unique("live-model")
    worker.train(experiment, {"seed": 1, "metrics": {"accuracy": 0.95}})
    first = run_promoter(tracking_uri, experiment, model, tmp_path, "--compare", "live")
    assert first["decision"] == "promoted" and "there is no champion yet" in first["reasons"]
    (retrained,) = worker.train(experiment, {"seed": 2, "metrics": {"accuracy": 0.9}})
    # Offline the champion's run is still the best: nothing to do.
    assert run_promoter(tracking_uri, experiment, model, tmp_path)["decision"] == "unchanged"
    # Live the newest run, trained on the current data, goes to canary for the judge, whatever its offline metric.
    live = run_promoter(tracking_uri, experiment, model, tmp_path, "--compare", "live")
    assert live["decision"] == "canary" and live["run_id"] == retrained and live["version"] == "2", live
    assert aliases(client, model) == {"champion": "1", "challenger": "2"}
    tags = audit(client, model, "2")
    assert tags["comparison"] == "live" and tags["source_run_id"] == retrained
    assert "challenges champion version 1 on live traffic" in tags["reasons"]


def test_equal_within_margin_is_rejected_and_a_rerun_changes_nothing(
    tracking_uri: str, worker: Worker, client: MlflowClient, tmp_path: Path
) -> None:
    experiment, model = unique("margin"), unique("margin-model")
    worker.train(experiment, {"seed": 1, "metrics": {"accuracy": 0.9}})
    run_promoter(tracking_uri, experiment, model, tmp_path)
    worker.train(experiment, {"seed": 2, "metrics": {"accuracy": 0.905}})

    decision = run_promoter(tracking_uri, experiment, model, tmp_path)
    assert decision["decision"] == "rejected" and decision["version"] == "2"
    assert aliases(client, model) == {"champion": "1"}
    tags = audit(client, model, "2")
    assert tags["decision"] == "rejected" and "below the margin 0.01" in tags["reasons"]

    again = run_promoter(tracking_uri, experiment, model, tmp_path)
    assert again["decision"] == "unchanged" and "already rejected" in again["reasons"][-1]
    assert audit(client, model, "2") == tags  # not even the timestamp moved
    assert versions(client, model) == ["1", "2"] and aliases(client, model) == {"champion": "1"}


def test_failing_an_absolute_threshold_blocks_even_the_first_model(
    tracking_uri: str, worker: Worker, client: MlflowClient, tmp_path: Path
) -> None:
    experiment, model = unique("threshold"), unique("threshold-model")
    worker.train(experiment, {"seed": 1, "metrics": {"accuracy": 0.7}})
    decision = run_promoter(tracking_uri, experiment, model, tmp_path)
    assert decision["decision"] == "rejected"
    assert aliases(client, model) == {}
    tags = audit(client, model, "1")
    assert tags["decision"] == "rejected" and "accuracy=0.7 is below the minimum 0.8" in tags["reasons"]
    assert not list(tmp_path.iterdir())  # nothing to roll out


@pytest.mark.parametrize(
    ("policy", "experiment_exists", "message"),
    [
        ('{"metric": "f1"}', True, "logged the metric 'f1'"),
        (POLICY, False, "does not exist"),
        ('{"metric": "accuracy", "margin": 1}', True, "unknown fields: margin"),
    ],
)
def test_bad_input_exits_non_zero_and_changes_nothing(
    tracking_uri: str, client: MlflowClient, policy: str, experiment_exists: bool, message: str
) -> None:
    experiment, model = unique("bad"), unique("bad-model")
    if experiment_exists:
        client.create_experiment(experiment)
        run = client.create_run(client.get_experiment_by_name(experiment).experiment_id)
        client.log_metric(run.info.run_id, "accuracy", 0.99)
        client.set_terminated(run.info.run_id)
    outcome = promote_best(
        tracking_uri,
        experiment,
        model,
        policy,
        "seldon",
        "--dry-run",
    )
    assert outcome.code == 2 and outcome.decision is None
    assert message in outcome.stderr and "Traceback" not in outcome.stderr
    assert not client.search_registered_models(f"name = '{model}'")
