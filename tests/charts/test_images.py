"""The images the releases pull (`make vendor`'s list), and the images of ours (`make images`).

`make vendor`'s list comes from walking the rendered objects (container images, operator custom resources,
images in operator flags, environment variables, JSON configuration and other ConfigMap text). The check
here is independent of that walk: a plain text scan of both renders for anything shaped like a tagged image
reference.

Images of ours are those under `mlplatform/` (at ghcr.io, or at the air-gapped profile's registry), less
the Kafka Connect image Strimzi's operator builds in the cluster from the KafkaConnect build spec. Each
must come from a Dockerfile in this repository that says so with the label `io.mlplatform.image`, that
installs the component it packages from that component's uv.lock, and whose command exists in the
component's locked environment (the one `make setup` creates). No image is built here: `make images` is
tested with a stand-in builder that records what it is asked to do.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import own_images
import pytest
import yaml

from tests.charts.conftest import (
    PREREQS,
    PROFILES,
    REPO,
    UMBRELLA,
    VALUES,
    chart_render,
    containers,
    load_values,
    require_real_subcharts,
)
from tests.conftest import missing_prerequisite

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


# -- images of ours --------------------------------------------------------------------------------------

# Our workloads' images and the component (build context) each packages.
OURS = {
    "mlplatform/airflow": "pipelines",
    "mlplatform/promoter": "pipelines/promoter",
    "mlplatform/fraud-detection": "examples/fraud-detection",
    "mlplatform/streaming": "streaming",
    "mlplatform/platform": "platform",
    "mlplatform/model-runtime": "platform/runtimes/mlserver",
}
PUBLIC_REGISTRY = "ghcr.io"
PRIVATE_REGISTRY = str(load_values(VALUES / "airgapped.yaml")["images"]["registry"])


def dockerfile(name: str) -> own_images.Dockerfile:
    return own_images.Dockerfile(REPO / OURS[name] / "Dockerfile")


def connect_build_outputs(renderer, profile: str) -> set[str]:
    """What Strimzi builds and pushes in the cluster: KafkaConnect spec.build.output.image."""
    return {image for doc in renderer.render(UMBRELLA, profile).docs for image in chart_render.built_in_cluster(doc)}


@pytest.fixture(scope="module")
def ours_by_profile(renderer) -> dict[str, set[str]]:
    """Profile -> the image references of ours its render names."""
    require_real_subcharts()
    found = {}
    for profile in PROFILES:
        images = chart_render.images(profile.split("+"))
        under_ours = {r for r in images if own_images.repository(r).startswith("mlplatform/")}
        # Strimzi's Connect build is the one `mlplatform/` image not built here, and nothing else is left out.
        outputs = connect_build_outputs(renderer, profile)
        assert outputs <= under_ours, (profile, outputs)
        assert {own_images.repository(r) for r in outputs} <= {"mlplatform/kafka-connect"}, (profile, outputs)
        found[profile] = under_ours - outputs
    return found


def test_each_workload_of_ours_has_a_dockerfile_labelled_with_its_repository():
    labelled = own_images.labelled()
    assert {name: str(d.context.relative_to(REPO)) for name, d in labelled.items()} == OURS


@pytest.mark.parametrize("profile", PROFILES)
def test_every_image_of_ours_in_the_render_comes_from_a_labelled_dockerfile(profile, ours_by_profile):
    """Every `mlplatform/` reference (but Strimzi's Connect build) is built here, at the profile's registry."""
    ours = ours_by_profile[profile]
    assert {own_images.repository(r) for r in ours} >= {"mlplatform/platform", "mlplatform/streaming"}, ours
    labelled = own_images.labelled()
    assert not {r for r in ours if own_images.repository(r) not in labelled}, "no Dockerfile carries their label"
    registry = PRIVATE_REGISTRY if "airgapped" in profile.split("+") else PUBLIC_REGISTRY
    elsewhere = sorted(r for r in ours if own_images.split_reference(r)[0] != registry)
    assert not elsewhere, f"{profile}: images of ours not at {registry}: {elsewhere}"
    # `make images` builds exactly these, each from its labelled Dockerfile.
    listed = own_images.own_images(profile.split("+"))
    assert {i.ref for i in listed} == ours
    assert all(i.dockerfile == labelled[own_images.repository(i.ref)] for i in listed)


def test_every_profile_names_the_same_images_of_ours(ours_by_profile):
    """A profile that moves registries moves every image of ours (none falls back to a third party's)."""
    repositories = {p: {own_images.repository(r) for r in refs} for p, refs in ours_by_profile.items()}
    assert all(names == repositories["dev"] for names in repositories.values()), repositories


def test_image_walk_finds_references_in_configmap_text():
    """A hand-made ConfigMap as the pipelines' settings and recipes ConfigMaps hold them: a setting whose value
    is an image, and a recipe (YAML as text) naming its training image; other text yields nothing."""
    recipe = (
        "name: fraud-detection\n"
        "project:\n  path: examples/fraud-detection\n"
        "image: registry.example.internal/mlplatform/fraud-detection:0.1.0   # the training image\n"
        "steps:\n  - image: 'quay.io/acme/extra-step:1.2'\n"
        "notes:\n  image: python\n"  # no registry path and tag: not a reference anyone pulls from here
    )
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "hand-made"},
        "data": {
            "MLP_PIPELINES__PROMOTER_IMAGE": "ghcr.io/mlplatform/promoter:0.1.0",
            "MLP_PIPELINES__WAREHOUSE_DSN": "host=mlp-pg-rw.mlp.svc port=5432 dbname=warehouse user=warehouse",
            "MLP_PIPELINES__ARTIFACT_ROOT": "s3://mlflow",
            "MLP_PIPELINES__PROMETHEUS_URL": "http://mlp-monitoring-prometheus.mlp-system.svc:9090",
            "maven": "https://registry.example.internal/repository/maven-central",
            "fraud-detection.yaml": recipe,
            "fraud-detection.py": "from mlpipelines.factory import recipe_dags\n\nglobals().update(recipe_dags())\n",
            ".airflowignore": "..*/\n",
        },
    }
    assert set(chart_render.images_in(config_map)) == {
        "ghcr.io/mlplatform/promoter:0.1.0",
        "registry.example.internal/mlplatform/fraud-detection:0.1.0",
        "quay.io/acme/extra-step:1.2",
    }
    # The same text outside a ConfigMap's data is not read as configuration.
    assert not set(chart_render.images_in({"kind": "Secret", "stringData": config_map["data"]}))


def test_connect_build_output_is_built_in_the_cluster_not_by_us():
    output = {"type": "docker", "image": "r.example/mlplatform/kafka-connect:x"}
    connect = {"kind": "KafkaConnect", "spec": {"build": {"output": output}}}
    assert list(chart_render.built_in_cluster(connect)) == ["r.example/mlplatform/kafka-connect:x"]
    assert not list(chart_render.built_in_cluster({"kind": "Deployment", "spec": {}}))


def test_vendor_lists_the_images_of_ours_apart():
    make = shutil.which("make")
    if not make:
        missing_prerequisite("make is not installed")
    result = subprocess.run([make, "-n", "-f", "charts/chart.mk", "vendor"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "render.py images --profile dev" in result.stdout
    assert "own_images.py list --profile dev" in result.stdout


# -- the Dockerfiles -------------------------------------------------------------------------------------


def is_package(context: Path) -> bool:
    """Whether uv installs the component itself (`[tool.uv] package = false` makes it a set of files)."""
    project = tomllib.loads((context / "pyproject.toml").read_text())
    return bool(project.get("tool", {}).get("uv", {}).get("package", True))


def uv_runs(d: own_images.Dockerfile) -> list[list[str]]:
    """Each `uv ...` command of a RUN, as words (RUNs chain commands with &&)."""
    found = []
    for ins in d.instructions:
        if ins.keyword == "RUN":
            for command in re.split(r"&&|\|\||;", ins.arguments):
                words = shlex.split(command)
                if words and words[0] == "uv":
                    found.append(words)
    return found


def context_copies(d: own_images.Dockerfile) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY/ADD from the build context (not from a stage or image)."""
    found = []
    for ins in d.instructions:
        if ins.keyword in {"COPY", "ADD"}:
            options, words = ins.options_and_words()
            if "from" not in options:
                found.append((words[:-1], words[-1]))
    return found


def ignored(context: Path) -> list[str]:
    path = context / ".dockerignore"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [ln.strip().lstrip("/") for ln in lines if ln.strip() and not ln.startswith("#")]


def excluded(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore drops `relative` (a pattern matching the path or a folder above it)."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:  # the last matching pattern decides; `!` patterns bring files back
        negate = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        forms = [body, body[3:]] if body.startswith("**/") else [body]  # `**/x` also matches x at the top
        if any(fnmatch.fnmatchcase(prefix, form) for prefix in prefixes for form in forms):
            result = not negate
    return result


@pytest.mark.parametrize("name", sorted(OURS))
def test_dockerfile_installs_from_the_components_lock(name):
    d = dockerfile(name)
    context = d.context
    assert (context / "pyproject.toml").is_file() and (context / "uv.lock").is_file()
    copied = [source for sources, _ in context_copies(d) for source in sources]
    assert "uv.lock" in copied, f"{name}: the build must see the component's uv.lock"
    runs = uv_runs(d)
    assert any(words[:2] == ["uv", "sync"] for words in runs), f"{name}: installs with `uv sync`"
    for words in runs:
        if words[1:2] in (["sync"], ["pip"]):
            assert {"--locked", "--frozen"} & set(words), f"{name}: `{shlex.join(words)}` may resolve anew"
    for ins in d.instructions:
        if ins.keyword == "RUN":
            assert not re.search(r"(?<!uv )\bpip3? install\b", ins.arguments), f"{name}: pip bypasses uv.lock"
    last = [w for w in runs if w[:2] == ["uv", "sync"]][-1]
    assert "--no-dev" in last
    if is_package(context):
        assert "--no-editable" in last and "--no-install-project" not in last, f"{name}: installs itself, not editable"
    makefile = (REPO / "Makefile").read_text()
    uv_version = re.search(r"^UV_VERSION := (\S+)", makefile, re.MULTILINE).group(1)
    uv_images = [ins for ins in d.instructions if ins.keyword == "COPY" and "astral-sh/uv:" in ins.arguments]
    assert uv_images and all(f"astral-sh/uv:{uv_version} " in ins.arguments for ins in uv_images), (
        f"{name}: the uv that wrote uv.lock (Makefile UV_VERSION {uv_version})"
    )


@pytest.mark.parametrize("name", sorted(OURS))
def test_dockerfile_copies_only_what_its_context_holds(name):
    d = dockerfile(name)
    patterns = ignored(d.context)
    assert any(p.rstrip("/") in {".venv", "**/.venv"} for p in patterns), f"{name}: .dockerignore keeps .venv out"
    for sources, destination in context_copies(d):
        for source in sources:
            matches = sorted(d.context.glob(source))
            assert matches, f"{name}: COPY {source} {destination}: not in the build context {d.context}"
            for match in matches:
                relative = str(match.relative_to(d.context))
                assert not excluded(relative, patterns), f"{name}: .dockerignore drops {relative}, which COPY needs"


def test_dockerignore_matching_follows_its_patterns():
    """The helper above, against the patterns these files use."""
    patterns = ["**/.venv", "tests", "**/__pycache__", "bench"]
    assert excluded(".venv", patterns) and excluded("src/x/.venv/bin", patterns)
    assert excluded("tests/test_a.py", patterns) and excluded("src/m/__pycache__/a.pyc", patterns)
    assert not excluded("src/mlpipelines/settings.py", patterns) and not excluded("uv.lock", patterns)
    assert not excluded("src/tests_helpers.py", patterns)


@pytest.mark.parametrize("name", sorted(OURS))
def test_components_lock_matches_its_pyproject(name):
    uv = os.environ.get("UV") or str(Path.home() / ".cache/mlp/tools/uv-0.13.9/bin/uv")
    if not Path(uv).is_file():
        missing_prerequisite(f"uv is not installed at {uv}: run `make bootstrap`")
    context = REPO / OURS[name]
    result = subprocess.run([uv, "lock", "--check", "--offline"], cwd=context, capture_output=True, text=True)
    if result.returncode != 0 and "offline" in result.stderr.lower():
        result = subprocess.run([uv, "lock", "--check"], cwd=context, capture_output=True, text=True)
    assert result.returncode == 0, f"{OURS[name]}/uv.lock is stale: run `uv lock` there\n{result.stderr}"


@pytest.mark.parametrize("name", sorted(OURS))
def test_image_runs_as_a_user_other_than_root(name):
    user = dockerfile(name).last("USER")
    assert user is not None, f"{name}: no USER in the final stage"
    assert user.arguments.split(":")[0] not in {"root", "0"}


INIT_WRAPPERS = {"tini", "dumb-init"}


def resolved_command(d: own_images.Dockerfile) -> list[str]:
    """The command the image ends up running by default: past an init (which the Dockerfile installs) and past
    scripts of ours copied into the image (which run the rest of the arguments)."""
    argv = d.command()
    assert argv, f"{d.relative()}: neither ENTRYPOINT nor CMD"
    if Path(argv[0]).name in INIT_WRAPPERS:
        init = Path(argv[0]).name
        assert any(
            ins.keyword == "RUN" and "install" in ins.arguments and init in ins.arguments.split()
            for ins in d.final_stage
        ), f"{d.relative()}: {init} is not installed"
        argv = argv[argv.index("--") + 1 :] if "--" in argv else argv[1:]
    ours = {destination for _, destination in context_copies(d)}
    while argv and argv[0] in ours:
        argv = argv[1:]
    return argv


@pytest.mark.parametrize("name", sorted(OURS))
def test_image_command_exists_in_the_components_locked_environment(name):
    d = dockerfile(name)
    path = next((ins.arguments for ins in d.final_stage if ins.keyword == "ENV" and "PATH=" in ins.arguments), "")
    first = re.search(r"\bPATH=([^:\s]+)", path)
    assert first, f"{name}: PATH does not start with the locked environment"
    venv_in_image = str(Path(first.group(1)).parent)
    copies = [ins.options_and_words() for ins in d.final_stage if ins.keyword == "COPY"]
    assert any("from" in opts and words[-1] == venv_in_image for opts, words in copies), (
        f"{name}: {venv_in_image} (first on PATH) is not the environment the build stage made"
    )
    argv = resolved_command(d)
    assert "/" not in argv[0], f"{name}: {argv[0]} should be found on PATH, in the locked environment"
    venv = d.context / ".venv"
    if not venv.is_dir():
        missing_prerequisite(f"{venv} is absent: run `make setup` (it creates every component's environment)")
    assert os.access(venv / "bin" / argv[0], os.X_OK), f"{name}: {argv[0]} is not in {venv}/bin"
    if argv[:2] == ["python", "-m"]:
        module = argv[2]
        check = "import importlib.util, sys; sys.exit(importlib.util.find_spec(sys.argv[1]) is None)"
        assert subprocess.run([str(venv / "bin" / "python"), "-c", check, module]).returncode == 0, module


def test_training_image_holds_the_project_where_cluster_mode_runs_it():
    """The train step runs `mlflow run <image_project_root>/<recipe path>`; the recipe's image must hold it."""
    recipe = yaml_load(REPO / "pipelines" / "recipes" / "fraud-detection.yaml")
    d = dockerfile("mlplatform/fraud-detection")
    assert own_images.repository(recipe["image"]) == d.image
    destination = f"/workspace/{recipe['project']['path']}/"
    project_copies = [(s, dest) for s, dest in context_copies(d) if dest == destination]
    assert project_copies and "MLproject" in project_copies[0][0], f"MLproject must be copied to {destination}"
    assert d.last("WORKDIR").arguments == destination.rstrip("/")
    assert "GIT_PYTHON_REFRESH=quiet" in " ".join(i.arguments for i in d.final_stage if i.keyword == "ENV")


def yaml_load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# -- the Airflow image and the Airflow chart --------------------------------------------------------------

AIRFLOW_SCRIPTS = REPO / "pipelines" / "image"


def airflow_containers(rendered) -> list[dict[str, Any]]:
    """Every container the Airflow chart runs with the Airflow image, and the worker pods' base container."""
    found = []
    for doc in rendered.workloads():
        spec = doc["spec"].get("jobTemplate", {}).get("spec", doc["spec"])
        for container in containers({"spec": spec}):
            if own_images.repository(container["image"]).endswith("/airflow"):
                found.append(container)
    found += [c for c in rendered.airflow_pod_template()["spec"]["containers"] if c["name"] == "base"]
    return found


def test_airflow_image_runs_what_the_airflow_chart_starts(dev):
    require_real_subcharts()
    d = dockerfile("mlplatform/airflow")
    provided = {destination for _, destination in context_copies(d)}
    environment = " ".join(i.arguments for i in d.final_stage if i.keyword == "ENV")
    venv_bin = REPO / "pipelines" / ".venv" / "bin"
    checked = airflow_containers(dev)
    assert len(checked) > 5, checked
    for container in checked:
        assert "command" not in container, f"{container['name']}: the image's ENTRYPOINT is relied upon"
        args = container.get("args") or []
        if args and args[0] in {"airflow", "python"} and venv_bin.is_dir():
            assert (venv_bin / args[0]).is_file(), args
        if args[:1] == ["bash"] and len(args) > 1 and args[1].startswith("/"):
            assert args[1] in provided, f"{container['name']} runs {args[1]}, which the image lacks"
        for probe in ("livenessProbe", "startupProbe", "readinessProbe"):
            command = (container.get(probe) or {}).get("exec", {}).get("command", [])
            for path in re.findall(r"(?<![\w.$])(/[\w./-]+)", " ".join(command)):
                assert path in provided, f"{container['name']}: {probe} runs {path}, which the image lacks"
        for env in container.get("env", []):
            if env["name"] == "AIRFLOW_HOME":
                assert f"AIRFLOW_HOME={env['value']}" in environment


def test_airflow_image_user_matches_the_charts_security_context(dev):
    require_real_subcharts()
    d = dockerfile("mlplatform/airflow")
    setup = " ".join(i.arguments for i in d.final_stage if i.keyword == "RUN")
    uid, gid = re.search(r"useradd --uid (\d+) --gid (\d+)", setup).groups()
    assert d.last("USER").arguments == f"{uid}:{gid}"
    for doc in dev.workloads():
        spec = doc["spec"].get("jobTemplate", {}).get("spec", doc["spec"])
        if any(own_images.repository(c["image"]).endswith("/airflow") for c in containers({"spec": spec})):
            context = spec["template"]["spec"].get("securityContext", {})
            assert str(context.get("runAsUser")) == uid and str(context.get("fsGroup")) == gid, doc["metadata"]["name"]
    home = re.search(r"AIRFLOW_HOME=(\S+)", " ".join(i.arguments for i in d.final_stage if i.keyword == "ENV")).group(1)
    assert home == "/opt/airflow"
    for folder in (home, f"{home}/dags", f"{home}/logs"):
        assert folder in setup.split(), f"{folder} is not created"
    assert f"chown -R {uid}:{gid} {home}" in setup and f"chmod -R g+rwX {home}" in setup


def run_script(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(AIRFLOW_SCRIPTS / script), *args], env=env, capture_output=True, text=True)


def test_airflow_entrypoint_runs_commands_and_airflow_subcommands(tmp_path):
    """/entrypoint as the chart uses it: `bash -c ...`, `airflow ...`, a worker's `python ...`, or a bare
    Airflow subcommand (`airflow` here is a stand-in that records its arguments)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "airflow-args"
    fake = bin_dir / "airflow"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {record}\n')
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    shell = run_script("entrypoint.sh", "bash", "-c", "echo via-bash; umask", env=env)
    assert shell.stdout.split() == ["via-bash", "0002"], shell.stderr
    python = run_script("entrypoint.sh", sys.executable, "-c", "print('via-python')", env=env)
    assert python.stdout.strip() == "via-python", python.stderr
    run_script("entrypoint.sh", "bash", "-c", "exec airflow scheduler", env=env)
    run_script("entrypoint.sh", "airflow", "jobs", "check", "--local", env=env)
    run_script("entrypoint.sh", "triggerer", env=env)
    run_script("entrypoint.sh", env=env)
    assert record.read_text().splitlines() == ["scheduler", "jobs check --local", "triggerer", "--help"]


def test_airflow_log_groomer_deletes_old_and_oversized_logs(tmp_path):
    logs = tmp_path / "logs"
    old = logs / "dag_id=a" / "run_id=1" / "task.log"
    recent = logs / "dag_id=b" / "run_id=2" / "task.log"
    for path in (old, recent):
        path.parent.mkdir(parents=True)
        path.write_text("x" * 1000)
    now = time.time()
    os.utime(old, (now - 3 * 86400, now - 3 * 86400))
    env = {"PATH": os.environ["PATH"], "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__LOG_RETENTION_DAYS": "2"}
    result = run_script("clean-logs.sh", "--once", env=env)
    assert result.returncode == 0, result.stderr
    assert not old.exists() and not old.parent.parent.exists() and recent.exists()

    for age, name in ((300, "a.log"), (200, "b.log"), (100, "c.log")):
        path = logs / name
        path.write_text("y" * 1000)
        os.utime(path, (now - age, now - age))
    result = run_script("clean-logs.sh", "--once", env={**env, "AIRFLOW__LOG_MAX_SIZE_BYTES": "2500"})
    assert result.returncode == 0, result.stderr
    remaining = sorted(p.name for p in logs.rglob("*.log"))
    assert remaining == ["c.log", "task.log"], "the oldest files go first, until the logs fit"

    bad = run_script("clean-logs.sh", "--once", env={**env, "AIRFLOW__LOG_RETENTION_DAYS": "two"})
    assert bad.returncode == 2 and "AIRFLOW__LOG_" in bad.stderr


# -- make images -------------------------------------------------------------------------------------------

FAKE_BUILDER = """#!/bin/sh
# Stand-in for {name}: records its arguments, one invocation per line.
echo "{name} $*" >> "{record}"
[ "$1" = info ] && exit {info_status}
exit 0
"""


def sandbox(tmp_path: Path, builders: dict[str, int]) -> Path:
    """A PATH folder holding only stand-in builders (name -> exit status of their `info`), so that no real
    docker, podman or buildah of this machine is found."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, info_status in builders.items():
        script = bin_dir / name
        script.write_text(FAKE_BUILDER.format(name=name, record=tmp_path / "calls", info_status=info_status))
        script.chmod(0o755)
    return bin_dir


Calls = list[list[str]]


def make_images(tmp_path: Path, builders: dict[str, int], *args: str) -> tuple[subprocess.CompletedProcess[str], Calls]:
    make = shutil.which("make")
    if not make:
        missing_prerequisite("make is not installed")
    require_real_subcharts()
    # Helm by its path: the sandboxed PATH holds nothing but the stand-ins.
    env = {**os.environ, "PATH": str(sandbox(tmp_path, builders)), "HELM": chart_render.helm()}
    result = subprocess.run(
        [make, "--no-print-directory", "images", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    calls = tmp_path / "calls"
    return result, [line.split() for line in calls.read_text().splitlines()] if calls.is_file() else []


def expected_builds(profile: str) -> dict[str, tuple[str, str]]:
    """Image reference -> (Dockerfile, context) for each image of ours the render of `profile` names."""
    labelled = own_images.labelled()
    refs = [r for r in chart_render.images(profile.split(",")) if own_images.repository(r) in labelled]
    return {r: (labelled[own_images.repository(r)].relative(), OURS[own_images.repository(r)]) for r in refs}


def test_make_images_without_a_builder_fails_naming_the_builders_and_lists_the_images(tmp_path):
    result, calls = make_images(tmp_path, {})
    assert result.returncode != 0 and not calls
    for builder in ("docker", "podman", "buildah"):
        assert f"{builder}: not on PATH" in result.stderr
    assert "Install one of docker" in result.stderr and "BUILDER=" in result.stderr
    expected = expected_builds("dev")
    assert len(expected) == len(OURS)
    for ref, (path, context) in expected.items():
        line = rf"^\s+{re.escape(ref)}\s+{re.escape(path)}\s+{re.escape(context)}/$"
        assert re.search(line, result.stdout, re.MULTILINE), f"{ref} is not listed:\n{result.stdout}"


def test_make_images_builds_each_image_once_with_the_renders_tag(tmp_path):
    """The `docker` here is a stand-in (this machine cannot build images): it records how `make images`
    calls it, which is the logic under test (builder, tags, Dockerfile, context), not an image build."""
    result, calls = make_images(tmp_path, {"docker": 0, "podman": 0})
    assert result.returncode == 0, result.stderr
    assert calls[0] == ["docker", "info"], "docker comes first, once it answers"
    builds = calls[1:]
    expected = expected_builds("dev")
    wanted = [["docker", "build", "-t", ref, "-f", path, context] for ref, (path, context) in expected.items()]
    assert sorted(builds) == sorted(wanted)
    assert not any(call[1] == "push" for call in calls)


def test_make_images_tags_for_the_profile_and_pushes_after_building(tmp_path):
    """Stand-in builder as above, with PROFILE=prod,airgapped and PUSH=1."""
    result, calls = make_images(tmp_path, {"docker": 0}, "PROFILE=prod,airgapped", "PUSH=1")
    assert result.returncode == 0, result.stderr
    expected = expected_builds("prod,airgapped")
    assert any(ref.startswith(f"{PRIVATE_REGISTRY}/mlplatform/") for ref in expected), expected
    builds = [c for c in calls if c[1] == "build"]
    pushes = [c for c in calls if c[1] == "push"]
    assert sorted(b[3] for b in builds) == sorted(expected) and sorted(p[2] for p in pushes) == sorted(expected)
    assert calls.index(pushes[0]) > calls.index(builds[-1]), "pushes start once every image is built"


@pytest.mark.parametrize(
    ("builders", "args", "used", "verb"),
    [
        ({"docker": 1, "podman": 0, "buildah": 0}, (), "podman", "build"),  # a docker CLI without its daemon
        ({"buildah": 0}, (), "buildah", "bud"),
        ({"docker": 0, "buildah": 0}, ("BUILDER=buildah",), "buildah", "bud"),
    ],
    ids=["docker-without-daemon", "buildah-alone", "BUILDER-override"],
)
def test_make_images_picks_a_working_builder(tmp_path, builders, args, used, verb):
    """Stand-in builders as above: which one `make images` picks, and buildah's own verb."""
    result, calls = make_images(tmp_path, builders, *args)
    assert result.returncode == 0, result.stderr
    builds = [c for c in calls if c[1] not in {"info"}]
    assert builds and all(c[0] == used and c[1] == verb for c in builds), calls
