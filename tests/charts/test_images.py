"""`make vendor`'s image list: every image the releases make a cluster pull, however it is passed.

The list comes from walking the rendered objects (container images, operator custom resources, images in
operator flags, environment variables and JSON configuration). The check here is independent of that
walk: a plain text scan of both renders for anything shaped like a tagged image reference.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.charts.conftest import PREREQS, UMBRELLA, chart_render, require_real_subcharts

PRIVATE = "registry.example.internal/"
TAGGED = re.compile(
    r"(?<![\w./:@-])((?:[a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d+)?/)?[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)+"
    r"(?::[A-Za-z0-9][\w.-]*|@sha256:[0-9a-f]{64}))"
)


def rendered_text(renderer, profile: str) -> str:
    return "".join(renderer.render(chart, profile).text for chart in (PREREQS, UMBRELLA))


@pytest.fixture(scope="module", params=["dev", "prod+airgapped"])
def listed(request, renderer) -> tuple[str, str, set[str]]:
    require_real_subcharts()
    profile = request.param
    return profile, rendered_text(renderer, profile), set(chart_render.images(profile.split("+")))


def test_vendor_lists_every_tagged_reference_of_the_render(listed):
    profile, text, images = listed
    referenced = {m.group(1) for m in TAGGED.finditer(text)}
    assert referenced, profile
    assert not referenced - images, f"{profile}: referenced but not listed: {sorted(referenced - images)}"


def test_vendor_lists_what_operators_pull_from_their_configuration(listed):
    """Images passed in flags and JSON configuration, which a container-image walk alone misses."""
    profile, _, images = listed
    for name in (
        "prometheus-operator/prometheus-config-reloader:",
        "seldonio/mlserver:1.7.1-mlflow",
        "seldonio/rclone-storage-initializer:1.17.1",
        "seldonio/seldon-core-executor:1.17.1",
    ):
        assert any(name in image for image in images), (profile, name)


def test_airgapped_pulls_nothing_from_a_public_registry(renderer):
    require_real_subcharts()
    text = rendered_text(renderer, "prod+airgapped")
    public = {m.group(1) for m in TAGGED.finditer(text)} - {r for r in TAGGED.findall(text) if r.startswith(PRIVATE)}
    assert not public, sorted(public)
    # Seldon's predictor servers name repository and version apart, inside a JSON ConfigMap.
    for config in renderer.render(PREREQS, "prod+airgapped").of_kind("ConfigMap"):
        for value in (config.get("data") or {}).values():
            if value.lstrip().startswith("{"):
                for repository in re.findall(r'"image(?:_v2)?":\s*"([^"]+)"', json.dumps(json.loads(value))):
                    assert repository.startswith(PRIVATE), (config["metadata"]["name"], repository)
    assert all(i.startswith(PRIVATE) for i in chart_render.images(["prod", "airgapped"]))
