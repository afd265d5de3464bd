"""Chart test fixtures: render the platform's charts with the real Helm CLI and return parsed objects.

In the style of Apache Airflow's chart tests. Where a dependency's archive is absent from
`charts/<chart>/charts/` (chart repositories are unreachable here and in most CI), the chart is copied
to a temp dir and the dependency replaced by a stand-in subchart (name and version from
`../shared/upstream/*/Chart.yaml`, no templates): the chart's own templates render with the real Helm
engine, the subcharts' objects are absent. Test ids say which mode rendered them. Every profile is
rendered once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
VALUES = REPO / "values"
UPSTREAM = REPO.parent / "shared" / "upstream"
KUBE_VERSION = "1.33.0"
UMBRELLA, PREREQS = "mlplatform", "mlplatform-prereqs"
RELEASES = {UMBRELLA: ("mlp", "mlp"), PREREQS: ("mlp-prereqs", "mlp-system")}
PROFILES = ["dev", "prod", "airgapped", "prod+airgapped"]
# Upstream reference folders by dependency name; Airflow's chart is not among them.
UPSTREAM_FOLDERS = {
    "strimzi-kafka-operator": "strimzi-kafka-operator-1.2.0",
    "cloudnative-pg": "cloudnative-pg-0.29.0",
    "seldon-core-operator": "seldon-core-operator-1.17.1",
    "kube-prometheus-stack": "kube-prometheus-stack-88.5.3",
    "minio": "minio-5.4.0",
}
AIRFLOW_STANDIN = {"apiVersion": "v2", "name": "airflow", "version": "1.22.0"}


class CrdLoader(yaml.SafeLoader):
    """Safe loader that also reads the `=` scalars some upstream CRDs hold (enum values)."""


CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def find_helm() -> str | None:
    """$HELM, else the cache path `make setup` builds, else helm on PATH."""
    for candidate in (os.environ.get("HELM"), str(Path.home() / ".cache/mlp/tools/helm-v3.22.0/helm")):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("helm")


def dependencies(chart: str) -> list[dict[str, Any]]:
    return yaml.safe_load((CHARTS / chart / "Chart.yaml").read_text()).get("dependencies", [])


def archive_present(chart: str, dep: dict[str, Any]) -> bool:
    sub = CHARTS / chart / "charts"
    return (sub / f"{dep['name']}-{dep['version']}.tgz").is_file() or (sub / dep["name"] / "templates").is_dir()


def uses_standins(chart: str) -> bool:
    return not all(archive_present(chart, d) for d in dependencies(chart))


def render_mode() -> str:
    """Part of every test id: which subcharts rendered."""
    return "with_standin_subcharts" if uses_standins(UMBRELLA) or uses_standins(PREREQS) else "with_real_subcharts"


def profile_files(chart: str, profile: str) -> list[Path]:
    folder = VALUES / "prereqs" if chart == PREREQS else VALUES
    paths = [folder / f"{layer}.yaml" for layer in profile.split("+")]
    return [p for p in paths if p.is_file()]


@dataclass
class Rendered:
    """Objects rendered from one chart with one set of values."""

    chart: str
    profile: str
    docs: list[dict[str, Any]]
    text: str
    standins: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [d for d in self.docs if d["kind"] == kind and d["metadata"]["name"] == name]
        assert found, f"{kind}/{name} not rendered ({self.chart}, {self.profile})"
        return found[0]

    def workloads(self) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}]


class ChartRenderer:
    """Prepares renderable copies of the charts (stand-ins where archives are absent) and renders them."""

    def __init__(self, helm: str, workdir: Path) -> None:
        self.helm = helm
        self.workdir = workdir
        self.prepared: dict[str, tuple[Path, list[str]]] = {}
        self.cache: dict[tuple[str, str, tuple[str, ...]], Rendered] = {}

    def chart_dir(self, chart: str) -> tuple[Path, list[str]]:
        if chart in self.prepared:
            return self.prepared[chart]
        missing = [d for d in dependencies(chart) if not archive_present(chart, d)]
        if not missing:
            self.prepared[chart] = (CHARTS / chart, [])
            return self.prepared[chart]
        if not UPSTREAM.is_dir():
            pytest.skip(f"dependency archives of {chart} are absent and {UPSTREAM} (stand-in source) is missing")
        target = self.workdir / chart
        shutil.copytree(CHARTS / chart, target, ignore=shutil.ignore_patterns(".build", ".vendor"))
        for dep in missing:
            if dep["name"] == "airflow":
                meta = AIRFLOW_STANDIN
            else:
                upstream = yaml.safe_load((UPSTREAM / UPSTREAM_FOLDERS[dep["name"]] / "Chart.yaml").read_text())
                meta = {"apiVersion": "v2", "name": upstream["name"], "version": str(upstream["version"])}
            assert meta["version"] == str(dep["version"]), f"{dep['name']}: pinned {dep['version']}, upstream {meta}"
            (target / "charts" / dep["name"]).mkdir(parents=True, exist_ok=True)
            (target / "charts" / dep["name"] / "Chart.yaml").write_text(yaml.safe_dump(meta))
        self.prepared[chart] = (target, [d["name"] for d in missing])
        return self.prepared[chart]

    def run(self, chart: str, args: list[str]) -> subprocess.CompletedProcess[str]:
        chart_dir, _ = self.chart_dir(chart)
        release, namespace = RELEASES[chart]
        cmd = [
            self.helm,
            "template",
            release,
            str(chart_dir),
            "-n",
            namespace,
            "--kube-version",
            KUBE_VERSION,
        ]
        return subprocess.run(cmd + args, capture_output=True, text=True, check=False)

    def render(self, chart: str, profile: str, sets: tuple[str, ...] = ()) -> Rendered:
        key = (chart, profile, sets)
        if key not in self.cache:
            args = [a for f in profile_files(chart, profile) for a in ("-f", str(f))]
            args += [a for s in sets for a in ("--set", s)]
            result = self.run(chart, args)
            assert result.returncode == 0, result.stderr
            docs = [d for d in yaml.safe_load_all(result.stdout) if isinstance(d, dict) and d.get("kind")]
            self.cache[key] = Rendered(chart, profile, docs, result.stdout, self.chart_dir(chart)[1])
        return self.cache[key]


@pytest.fixture(scope="session")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> ChartRenderer:
    helm = find_helm()
    if not helm:
        pytest.skip("Helm is not installed: run `make setup` (or set HELM)")
    return ChartRenderer(helm, tmp_path_factory.mktemp("charts"))


@pytest.fixture(scope="session")
def upstream() -> Path:
    if not UPSTREAM.is_dir():
        pytest.skip(f"upstream reference data {UPSTREAM} is absent (only present beside the main work tree)")
    return UPSTREAM


@pytest.fixture(scope="session", params=PROFILES, ids=lambda p: f"{p}-{render_mode()}")
def platform(request: pytest.FixtureRequest, renderer: ChartRenderer) -> Rendered:
    """The umbrella chart rendered with each profile."""
    return renderer.render(UMBRELLA, request.param)


@pytest.fixture(scope="session", params=PROFILES, ids=lambda p: f"{p}-{render_mode()}")
def prereqs(request: pytest.FixtureRequest, renderer: ChartRenderer) -> Rendered:
    """The prerequisites chart rendered with each profile."""
    return renderer.render(PREREQS, request.param)


@pytest.fixture(scope="session")
def dev(renderer: ChartRenderer) -> Rendered:
    return renderer.render(UMBRELLA, "dev")


@pytest.fixture(scope="session")
def prod(renderer: ChartRenderer) -> Rendered:
    return renderer.render(UMBRELLA, "prod")


@pytest.fixture(scope="session")
def airgapped(renderer: ChartRenderer) -> Rendered:
    return renderer.render(UMBRELLA, "airgapped")


@pytest.fixture(scope="session")
def render(renderer: ChartRenderer) -> Callable[..., Rendered]:
    """Render the umbrella with a profile plus --set overrides (cached per arguments)."""

    def _render(*sets: str, profile: str = "dev", chart: str = UMBRELLA) -> Rendered:
        return renderer.render(chart, profile, tuple(sets))

    return _render


@pytest.fixture(scope="session")
def render_failure(renderer: ChartRenderer) -> Callable[..., str]:
    """Render expecting Helm to refuse; returns its error output."""

    def _fail(*sets: str, chart: str = UMBRELLA) -> str:
        result = renderer.run(chart, [a for s in sets for a in ("--set", s)])
        assert result.returncode != 0, f"helm accepted {sets}"
        return result.stderr

    return _fail


def load_values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def containers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


@pytest.fixture(scope="session")
def chart_values() -> dict[str, dict[str, Any]]:
    """Default values of both charts, and every profile file, as parsed YAML."""
    found = {
        UMBRELLA: load_values(CHARTS / UMBRELLA / "values.yaml"),
        PREREQS: load_values(CHARTS / PREREQS / "values.yaml"),
    }
    for path in sorted(VALUES.glob("*.yaml")):
        found[f"values/{path.name}"] = load_values(path)
    for path in sorted((VALUES / "prereqs").glob("*.yaml")):
        found[f"values/prereqs/{path.name}"] = load_values(path)
    return found
