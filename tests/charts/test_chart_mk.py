"""chart.mk: installs in order with waits and rollback, and never without a named cluster."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def make(*args: str) -> subprocess.CompletedProcess[str]:
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    return subprocess.run(
        ["make", "-f", "charts/chart.mk", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_cluster_targets_refuse_without_kube_context():
    result = make("chart-prereqs", "KUBE_CONTEXT=")
    assert result.returncode != 0 and "KUBE_CONTEXT is required" in result.stdout + result.stderr


def test_install_orders_prereqs_before_platform_with_wait_and_rollback():
    result = make("-n", "install", "KUBE_CONTEXT=kind-test", "PROFILE=prod,airgapped")
    assert result.returncode == 0, result.stderr
    lines = [ln for ln in result.stdout.splitlines() if " upgrade --install " in ln]
    assert len(lines) == 2 and "mlp-prereqs" in lines[0] and " mlp charts/mlplatform " in lines[1]
    for line in lines:
        assert all(flag in line for flag in ("--wait", "--timeout", "--atomic", "--kube-context kind-test"))
    assert "-f values/prod.yaml -f values/airgapped.yaml" in lines[1]
    assert "-f values/prereqs/prod.yaml -f values/prereqs/airgapped.yaml" in lines[0]
    assert result.stdout.index("dependency build") < result.stdout.index(lines[0])
    assert "wait kafka/mlp" in result.stdout, "install ends with the readiness smoke check"
