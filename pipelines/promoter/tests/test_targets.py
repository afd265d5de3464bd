"""Targets are chosen by name behind one interface; what each does with a decision, without a cluster or server."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlp_policy import Autoscaling, Policy, Serving
from mlp_promoter.errors import PromoterError
from mlp_promoter.local import LocalOptions, LocalTarget
from mlp_promoter.seldon import SeldonOptions, SeldonTarget
from mlp_promoter.targets import Rollout, target_class

POLICY = Policy(metric="roc_auc", serving=Serving(max_batch_size=8, max_batch_time=0.01))
CHAMPION = Rollout("3", "mlflow-artifacts:/1/models/m-a/artifacts", 80)
CANARY = Rollout("4", "mlflow-artifacts:/1/models/m-b/artifacts", 20)


def test_targets_are_chosen_by_name() -> None:
    assert target_class("seldon") is SeldonTarget and SeldonTarget.canary
    assert target_class("local") is LocalTarget and LocalTarget.canary
    with pytest.raises(PromoterError, match="unknown target 'kserve': use one of local, seldon"):
        target_class("kserve")


def test_seldon_dry_run_shows_the_manifest_and_writes_nothing(tmp_path: Path) -> None:
    target = SeldonTarget(SeldonOptions(), output_dir=tmp_path, dry_run=True)
    (manifest,) = target.publish("fraud-detector", [CHAMPION, CANARY], POLICY)["manifests"]
    assert [p["traffic"] for p in manifest["spec"]["predictors"]] == [80, 20]
    assert not list(tmp_path.iterdir())


def test_seldon_scales_each_version_as_the_policy_says() -> None:
    target = SeldonTarget(SeldonOptions(), dry_run=True)
    policy = Policy(metric="roc_auc", autoscaling=Autoscaling(min_replicas=1, max_replicas=4))
    (manifest,) = target.publish("fraud-detector", [CHAMPION, CANARY], policy)["manifests"]
    hpas = [p["componentSpecs"][0]["hpaSpec"] for p in manifest["spec"]["predictors"]]
    assert [(h["minReplicas"], h["maxReplicas"]) for h in hpas] == [(1, 4), (1, 4)]
    (manifest,) = target.publish("fraud-detector", [CHAMPION], POLICY)["manifests"]
    assert "componentSpecs" not in manifest["spec"]["predictors"][0]


def test_seldon_output_dir_gets_one_file_per_model(tmp_path: Path) -> None:
    target = SeldonTarget(SeldonOptions(namespace="models"), output_dir=tmp_path)
    (written,) = target.publish("fraud-detector", [CHAMPION], POLICY)["manifest_files"]
    assert Path(written) == tmp_path / "fraud-detector.seldondeployment.yaml"


def test_local_dry_run_plans_both_versions(tmp_path: Path) -> None:
    """A canary is served beside its champion, each version on its own URL."""
    target = LocalTarget(LocalOptions(tmp_path, "http://127.0.0.1:8090"), dry_run=True)
    planned = target.publish("fraud-detector", [CHAMPION, CANARY], POLICY)["serving"]
    home = tmp_path / "fraud-detector"
    settings = {Path(path).parent.name: s["parameters"] for path, s in planned["model_settings"].items()}
    assert settings == {"3": {"uri": "./model", "version": "3"}, "4": {"uri": "./model", "version": "4"}}
    assert [(v["version"], v["traffic"]) for v in planned["versions"]] == [("3", 80), ("4", 20)]
    assert planned["versions"][1]["infer_url"] == "http://127.0.0.1:8090/v2/models/fraud-detector/versions/4/infer"
    assert not home.exists()
