"""chart.mk: installs in order with waits and rollback, and never without a named cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.charts.conftest import require_real_subcharts

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
    order = [result.stdout.index(step) for step in ("render.py deps", "render.py crds", lines[0], lines[1])]
    assert order == sorted(order), "archives, then CRDs, then the prerequisites, then the platform"
    assert "--skip-crds" in lines[0], "CRDs come from chart-crds alone"
    assert result.stdout.index("wait kafka/mlp") > order[-1], "install ends with the readiness smoke check"


def test_smoke_check_pulls_no_image():
    """An air-gapped cluster cannot pull a public image: the smoke check only reads the API server."""
    result = make("-n", "chart-smoke", "KUBE_CONTEXT=kind-test")
    assert result.returncode == 0, result.stderr
    assert " run " not in result.stdout and "--image" not in result.stdout


def test_chart_deps_takes_local_archives_without_any_repository(tmp_path):
    """With every archive in place, chart-deps calls no chart repository (Helm itself is not run)."""
    require_real_subcharts()
    failing_helm = tmp_path / "helm"
    failing_helm.write_text('#!/bin/sh\necho "helm was called: $*" >&2\nexit 3\n')
    failing_helm.chmod(0o755)
    result = make("chart-deps", f"HELM={failing_helm}")
    assert result.returncode == 0, result.stderr
    assert "helm was called" not in result.stderr


def test_chart_deps_in_ci_fails_naming_the_fix_when_archives_cannot_be_had(tmp_path):
    """A clone without the archives and without the chart repositories: CI stops, naming the setting."""
    clone = tmp_path / "clone"
    shutil.copytree(REPO / "charts", clone / "charts", ignore=shutil.ignore_patterns("*.tgz", ".build", ".vendor"))
    unreachable = tmp_path / "helm"
    unreachable.write_text("#!/bin/sh\necho 'Error: repository unreachable' >&2\nexit 1\n")
    unreachable.chmod(0o755)
    env = {**os.environ, "CI": "true", "HELM": str(unreachable), "MLP_CHART_ARCHIVES": str(tmp_path / "none")}
    result = subprocess.run(
        [sys.executable, str(clone / "charts" / "scripts" / "render.py"), "deps"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "MLP_CHART_ARCHIVES" in result.stderr and "repository unreachable" in result.stderr
    assert not list((clone / "charts").glob("*/charts/*.tgz"))
