"""Chart test fixtures: render the platform's charts with the real Helm CLI and return parsed objects.

In the style of Apache Airflow's chart tests, with the real subcharts: rendering goes through
`charts/scripts/render.py`, the one renderer `make template` uses too, after `make chart-deps` (part of
`make setup`) has put the pinned archives in place. Only in a clone that can get neither the archives
nor the chart repositories does it fall back to stand-in subcharts (name and version, no templates);
test ids say which mode rendered them, and in CI (`CI=true`) that fallback is an error. Every profile
is rendered once per session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import render as chart_render  # the charts' own renderer: tests/conftest.py puts charts/scripts on the path
import yaml

from tests.conftest import missing_prerequisite

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
VALUES = REPO / "values"
UPSTREAM = REPO.parent / "shared" / "upstream"

UMBRELLA, PREREQS = "mlplatform", "mlplatform-prereqs"
PROFILES = ["dev", "prod", "airgapped", "prod+airgapped"]
CrdLoader = chart_render.Loader


def uses_standins(chart: str) -> bool:
    return bool(chart_render.missing_archives(chart))


def require_real_subcharts() -> None:
    """For tests about the real subcharts: fail in CI, skip with the fix elsewhere, when archives are absent."""
    missing = [d["name"] for chart in (UMBRELLA, PREREQS) for d in chart_render.missing_archives(chart)]
    if missing:
        missing_prerequisite(f"dependency archives absent ({', '.join(missing)}): run `make chart-deps`")


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

    def airflow_pod_template(self) -> dict[str, Any]:
        """The KubernetesExecutor's worker pod template (Airflow's pod_template_file ConfigMap)."""
        (template,) = [
            yaml.safe_load(d["data"]["pod_template_file.yaml"])
            for d in self.of_kind("ConfigMap")
            if "pod_template_file.yaml" in d.get("data", {})
        ]
        return dict(template)

    def workloads(self) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}]


class ChartRenderer:
    """Renders through charts/scripts/render.py and caches each (chart, profile, --set) render."""

    def __init__(self) -> None:
        self.prepared: dict[str, tuple[Path, list[str]]] = {}
        self.cache: dict[tuple[str, str, tuple[str, ...]], Rendered] = {}

    def chart_dir(self, chart: str) -> tuple[Path, list[str]]:
        if chart not in self.prepared:
            try:
                self.prepared[chart] = chart_render.prepare(chart)
            except chart_render.RenderError as error:
                pytest.fail(str(error))
        return self.prepared[chart]

    def run(self, chart: str, args: list[str]) -> subprocess.CompletedProcess[str]:
        return chart_render.helm_template(chart, args, self.chart_dir(chart)[0])

    def render(self, chart: str, profile: str, sets: tuple[str, ...] = ()) -> Rendered:
        key = (chart, profile, sets)
        if key not in self.cache:
            args = [a for f in profile_files(chart, profile) for a in ("-f", str(f))]
            args += [a for s in sets for a in ("--set", s)]
            result = self.run(chart, args)
            assert result.returncode == 0, result.stderr
            docs = list(chart_render.documents(result.stdout))
            self.cache[key] = Rendered(chart, profile, docs, result.stdout, self.chart_dir(chart)[1])
        return self.cache[key]


@pytest.fixture(scope="session")
def renderer() -> ChartRenderer:
    try:
        chart_render.helm()
    except chart_render.RenderError as error:
        pytest.fail(str(error))
    return ChartRenderer()


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
    """Render expecting Helm to refuse; returns its error output. Without a profile only the chart's defaults
    apply; with one, --set can index into the lists its files set."""

    def _fail(*sets: str, chart: str = UMBRELLA, profile: str | None = None) -> str:
        files = [a for f in profile_files(chart, profile) for a in ("-f", str(f))] if profile else []
        result = renderer.run(chart, files + [a for s in sets for a in ("--set", s)])
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


NOTES_PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes-probe
data:
  notes: {{ tpl (.Files.Get "NOTES.probe") . | quote }}
"""


def probe_notes(chart: Path, root: Path) -> str:
    """Make a chart's NOTES.txt renderable by `helm template` (which skips NOTES): move it aside and add a
    template that renders it through `tpl`. `chart` is the chart's folder inside the chart tree at
    `root`; returns the probe's path for `--show-only`."""
    shutil.move(chart / "templates" / "NOTES.txt", chart / "NOTES.probe")
    probe = chart / "templates" / "notes-probe.yaml"
    probe.write_text(NOTES_PROBE)
    return str(probe.relative_to(root))


def notes_of(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return str(yaml.safe_load(result.stdout)["data"]["notes"])


@cache
def component_settings(project: str, settings_class: str) -> dict[str, Any]:
    """A component's settings model, read in the component's own environment (it cannot be imported here):
    its env prefix and each field's default. `settings_class` is `module:Class`, a pydantic 2 settings model or
    a pydantic 1 BaseSettings (the promoter's environment keeps pydantic 1)."""
    python = REPO / project / ".venv" / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: run `make setup` (uv sync --locked --project {project})")
    module, name = settings_class.split(":")
    code = (
        f"import json; from {module} import {name} as S; v2 = hasattr(S, 'model_fields'); "
        "prefix = S.model_config['env_prefix'] if v2 else S.__config__.env_prefix; "
        "fields = S.model_fields if v2 else S.__fields__; "
        "print(json.dumps({'prefix': prefix, 'defaults': {n: f.default for n, f in fields.items()}}, default=str))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLP_")}
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, check=True)
    return dict(json.loads(result.stdout))
