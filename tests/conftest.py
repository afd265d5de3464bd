"""Session-wide fixtures: one real platform instance, isolated from a user's own, for all tests.

The instance gets its own home folder and free ports, and is started and stopped through the real
`mlp` CLI, exactly as a user runs it; the tool cache is shared with the user's (it is read-only here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import yaml
from mlflow import MlflowClient
from mlplatform.airflow_client import AirflowClient
from mlplatform.config import Settings
from mlplatform.credentials import Credentials
from mlplatform.demo import RECIPE
from mlplatform.isolation import free_ports, isolated_environment  # noqa: F401 (shared with test packages)
from mlplatform.runtime.services.airflow import Airflow

from tests.promotion.helpers import MLSERVER_ENV, PROMOTER, Worker

# The charts' own scripts are no package: on the path for every test, so `render.in_ci` is the one answer to
# "is this CI?" here as in `make chart-deps`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "charts" / "scripts"))
from render import in_ci

MLP = str(Path(sys.executable).parent / "mlp")
ROOT = Path(__file__).resolve().parents[1]


def missing_prerequisite(message: str) -> NoReturn:
    """A prerequisite of a test is absent: in CI (`CI=true`) the run fails, elsewhere the test is skipped."""
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def run_mlp(
    *args: str, env: dict[str, str] | None = None, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [MLP, *args],
        env=env or os.environ.copy(),
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"mlp {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


#: The test instance's cadences for the fraud-detection recipe (tests/promotion/test_drift_loop.py): its drift
#: watcher looks every minute, a retraining's canary is judged after a minute, and the cooldown after the demo's
#: training is short.
TEST_CADENCES = {"check_every": "* * * * *", "cooldown": "3m", "canary_duration": "60s"}


def recipes_for_tests(folder: Path) -> Path:
    """The repository's recipes and DAG files, with the fraud-detection recipe on TEST_CADENCES."""
    shutil.copytree(ROOT / "pipelines" / "recipes", folder)
    path = folder / "fraud-detection.yaml"
    recipe = yaml.safe_load(path.read_text())
    recipe["triggers"]["drift"]["check_every"] = TEST_CADENCES["check_every"]
    recipe["triggers"]["cooldown"] = TEST_CADENCES["cooldown"]
    recipe["promotion"]["canary"]["duration"] = TEST_CADENCES["canary_duration"]
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return folder


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    """Settings of the test instance; its variables are exported so `mlp` subprocesses see them too."""
    saved = os.environ.copy()
    # Three simulated nodes for the local control plane: the prod profile requires replicas on distinct nodes.
    # Recipe DAGs start paused: a watcher that retrains in the background would load every later test (the
    # demo triggers its run; a test of a watcher unpauses it).
    isolated = isolated_environment()
    recipes = recipes_for_tests(Path(isolated["MLP_HOME"]) / "recipes")
    os.environ.update(
        {
            **isolated,
            "MLP_PROMETHEUS__SCRAPE_INTERVAL": "5s",
            "MLP_CLUSTER__NODES": "3",
            "MLP_AIRFLOW__PAUSED_AT_CREATION": "true",
            "MLP_AIRFLOW__RECIPES_DIR": str(recipes),
        }
    )
    current = Settings()
    yield current
    os.environ.clear()
    os.environ.update(saved)
    if not os.environ.get("MLP_KEEP_TEST_HOME"):
        shutil.rmtree(current.home, ignore_errors=True)


@pytest.fixture(scope="session")
def platform(settings: Settings) -> Iterator[Settings]:
    """The running platform: `mlp up` before the first test that needs it, `mlp down` at the end."""
    try:
        run_mlp("up")
        yield settings
    finally:
        run_mlp("down", check=False)


@pytest.fixture(scope="session")
def credentials(platform: Settings) -> Credentials:
    return Credentials(platform)


@pytest.fixture(scope="session")
def airflow_client(platform: Settings) -> AirflowClient:
    """The test instance's Airflow REST API, as its admin."""
    service = Airflow(platform)
    return AirflowClient(service.url(platform.airflow.port), platform.airflow.admin_user, service.admin_password())


@pytest.fixture(scope="session")
def demo(platform: Settings, airflow_client: AirflowClient) -> subprocess.CompletedProcess[str]:
    """`mlp demo` once per session: the fraud-detection champion trained, served and scoring live transactions.

    The demo's trigger unpauses the recipe; paused again, its schedule starts no training behind later tests (a
    test of the recipe's triggers unpauses it)."""
    result = run_mlp("demo")
    airflow_client.set_paused(RECIPE, paused=True)
    return result


# -- The real tracking server, and a worker that trains real models on it (promotion and cluster tests) -----
@pytest.fixture(scope="session")
def tracking_uri(platform: Settings) -> str:
    for env, command in (
        (PROMOTER, "uv sync --project pipelines/promoter"),
        (MLSERVER_ENV / "bin" / "mlserver", "uv sync --project platform/runtimes/mlserver"),
    ):
        if not env.exists():
            pytest.fail(f"{env} is missing: run `{command}` (or `make setup`)")
    return f"http://{platform.host}:{platform.mlflow.port}"


@pytest.fixture(scope="session")
def client(tracking_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri)


@pytest.fixture(scope="session")
def worker(tracking_uri: str, platform: Settings) -> Iterator[Worker]:
    started = Worker(tracking_uri, platform.logs_dir / "promotion-test-worker.log")
    yield started
    started.close()
