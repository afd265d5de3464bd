"""Alert rules: every rule file passes `promtool check rules`, every alert has a passing `promtool test rules`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from mlplatform.observability.paths import RULE_TESTS_DIR, RULES_DIR, rule_files

RULE_FILES = rule_files()
TEST_FILES = sorted(RULE_TESTS_DIR.glob("*.yaml"))


def alerts(path: Path) -> set[str]:
    return {r["alert"] for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"] if "alert" in r}


def firing_tested_alerts(path: Path) -> set[str]:
    spec = yaml.safe_load(path.read_text())
    return {c["alertname"] for t in spec["tests"] for c in t.get("alert_rule_test", []) if c.get("exp_alerts")}


def run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, check=False)


def test_the_issue_areas_have_alerts() -> None:
    every = set().union(*(alerts(p) for p in RULE_FILES))
    wanted = {
        "ModelServingLatencyHigh",
        "ModelServingErrorRatioHigh",
        "StreamConsumerLagHigh",
        "KafkaConsumerLagHigh",
        "StreamDeadLetterRateHigh",
        "KafkaConnectTaskFailed",
        "KafkaConnectConnectorFailed",
        "AirflowDagRunFailed",
        "ModelFeatureDriftHigh",
        "MLflowDown",
        "ModelCanaryRolledBack",
        "ModelRetrainingStuck",
    }
    assert wanted <= every, wanted - every


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_file_passes_promtool_check(promtool: str, path: Path) -> None:
    result = run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_every_alert_has_a_firing_unit_test(path: Path) -> None:
    tests = RULE_TESTS_DIR / path.name
    assert tests.is_file(), f"{path.name} has no promtool test file {tests}"
    spec = yaml.safe_load(tests.read_text())
    assert [str((tests.parent / f).resolve()) for f in spec["rule_files"]] == [str(path.resolve())]
    missing = alerts(path) - firing_tested_alerts(tests)
    assert not missing, f"alerts of {path.name} without a test that expects them to fire: {sorted(missing)}"


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(promtool: str, path: Path) -> None:
    result = run(promtool, "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_can_fail(promtool: str, tmp_path: Path) -> None:
    """A wrong expectation fails: the unit tests above are not vacuous."""
    spec = yaml.safe_load((RULE_TESTS_DIR / "availability.yaml").read_text())
    spec["rule_files"] = [str(RULES_DIR / "availability.yaml")]
    spec["tests"][0]["alert_rule_test"][-1]["exp_alerts"] = []
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(spec))
    result = run(promtool, "test", "rules", str(broken))
    assert result.returncode != 0 and "MLflowDown" in result.stdout + result.stderr
