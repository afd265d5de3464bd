"""The local Kubernetes control plane of the isolated test instance, for every test that needs a cluster.

`cluster` starts it once (`mlp cluster up`, exactly as a user does) and stops it when the session
ends. It gives the kubeconfig, the context name and the environment that points kubectl and Helm at it
(KUBECONFIG, KUBECACHEDIR), plus a `kubectl` helper. Where the binaries are absent the tests are
skipped, except in CI (`CI=true`), where that is a failure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlplatform.cluster.layout import CONTEXT, ClusterLayout
from mlplatform.config import Settings
from mlplatform.errors import ToolMissing
from mlplatform.tools import Toolchain

from tests.conftest import missing_prerequisite, run_mlp


@dataclass(frozen=True)
class LocalCluster:
    settings: Settings
    kubeconfig: Path
    #: The kubeconfig's context: `mlp-local`.
    context: str
    #: The test process's environment plus KUBECONFIG and KUBECACHEDIR, for kubectl and Helm.
    env: dict[str, str]
    kubectl_binary: Path

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.kubectl_binary), "--context", self.context, *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result


def require_cluster_tools(settings: Settings) -> Toolchain:
    """The toolchain, when the control plane's binaries are built; else skip (fail under CI=true)."""
    tools = Toolchain(settings)
    try:
        tools.check_cluster()
    except ToolMissing as missing:
        missing_prerequisite(str(missing))
    return tools


def required_tool(path: Path, what: str) -> Path:
    """A tool `make setup` installs; skipped where absent, failed under CI=true."""
    if not path.exists():
        missing_prerequisite(f"{what} is not installed at {path}: run `make setup`")
    return path


def cluster_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    return {**(base if base is not None else os.environ), **ClusterLayout(settings).client_environment()}


@pytest.fixture(scope="session")
def cluster(settings: Settings) -> Iterator[LocalCluster]:
    """The running control plane of the test instance: `mlp cluster up` once, `mlp cluster down` at the end."""
    tools = require_cluster_tools(settings)
    layout = ClusterLayout(settings)
    try:
        run_mlp("cluster", "up")
        yield LocalCluster(
            settings=settings,
            kubeconfig=layout.kubeconfig,
            context=CONTEXT,
            env=cluster_env(settings),
            kubectl_binary=tools.kubectl,
        )
    finally:
        run_mlp("cluster", "down", check=False)


@pytest.fixture
def namespace(cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of its own for one test, deleted afterwards (without waiting)."""
    name = "t-" + request.node.name.removeprefix("test_").replace("_", "-")[:40].rstrip("-")
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
