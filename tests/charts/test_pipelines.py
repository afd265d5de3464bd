"""The pipelines in the chart: one contract between the chart and `mlpipelines.settings.PipelineSettings`, the
recipes ConfigMap Airflow builds its DAGs from, and the accounts the pipelines' pods run as.

PipelineSettings is read from the pipelines' own environment (it needs pydantic 2 and Airflow's pins), as the
processors' settings are in test_faust.py. Every MLP_PIPELINES__* variable the chart gives Airflow must be one
of its fields, and every name it holds, whether the chart sets it or its default stands, must be an object of
the render. If either side drifts, these tests fail.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.charts.conftest import PREREQS, REPO, Rendered, chart_render, component_settings, require_real_subcharts

PIPELINES_PYTHON = REPO / "pipelines" / ".venv" / "bin" / "python"
RECIPES = REPO / "pipelines" / "recipes"
PREFIX = "MLP_PIPELINES__"
# Settings that are not names of objects: how the pipelines run, and local-mode paths and addresses.
NOT_NAMES = {
    "mode",
    "recipes_dir",
    "repo_root",
    "image_project_root",
    "image_pull_policy",
    "promoter",
    "batch_predictor",
    "python_env",
    "mlflow_s3_endpoint_url",
}
# Settings naming objects, each checked against the render below (the task images in their own test).
NAMES = {
    "namespace",
    "service_account",
    "promoter_service_account",
    "task_env_secret",
    "warehouse_secret",
    "warehouse_secret_key",
    "models_namespace",
    "model_storage_secret",
    "warehouse_dsn",
    "prometheus_url",
    "mlflow_tracking_uri",
    "artifact_root",
    "promoter_image",
    "model_runtime_image",
}


def pipeline_settings() -> dict[str, Any]:
    return component_settings("pipelines", "mlpipelines.settings:PipelineSettings")


# Airflow's containers that load DAGs (the worker pod template's is `base`); log groomers, StatsD and the
# migration Job do not.
DAG_CONTAINERS = {"api-server", "dag-processor", "scheduler", "triggerer", "base"}


def airflow_containers(rendered: Rendered) -> list[dict[str, Any]]:
    """Airflow's containers that load DAGs, including the KubernetesExecutor's worker pod template's."""
    containers = [
        c
        for d in rendered.workloads()
        if d["metadata"].get("labels", {}).get("tier") == "airflow"
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    containers += rendered.airflow_pod_template()["spec"]["containers"]
    return [c for c in containers if c["name"] in DAG_CONTAINERS]


def chart_variables(rendered: Rendered) -> dict[str, str]:
    """MLP_PIPELINES__* variables the chart gives Airflow: direct env, and the ConfigMaps/Secrets of envFrom."""
    found: dict[str, str] = {}
    for container in airflow_containers(rendered):
        for item in container.get("env") or []:
            if item["name"].startswith(PREFIX):
                found[item["name"]] = item.get("value", "")
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                data = rendered.get("ConfigMap", source["configMapRef"]["name"]).get("data", {})
            else:
                secret = rendered.get("Secret", source["secretRef"]["name"]).get("data", {})
                data = {k: base64.b64decode(v).decode() for k, v in secret.items()}
            found |= {k: v for k, v in data.items() if k.startswith(PREFIX)}
    return found


def effective(rendered: Rendered) -> dict[str, Any]:
    """The settings a pipelines container of this render reads: defaults, overridden by the chart."""
    given = {name.removeprefix(PREFIX).lower(): value for name, value in chart_variables(rendered).items()}
    return pipeline_settings()["defaults"] | given


def find(rendered: Rendered, kind: str, name: str, namespace: str) -> dict[str, Any]:
    matches = [
        d
        for d in rendered.of_kind(kind)
        if d["metadata"]["name"] == name and d["metadata"].get("namespace", namespace) == namespace
    ]
    assert matches, f"{kind} {namespace}/{name} is named by the pipelines' settings but not rendered"
    return matches[0]


def service_of(url: str, rendered: Rendered) -> dict[str, Any]:
    """The Service an in-cluster URL's host names (<name>.<namespace>.svc), checked to serve its port."""
    parts = urlsplit(url)
    name, namespace, svc = (parts.hostname or "").split(".")[:3]
    assert svc == "svc", f"{url} is not an in-cluster Service address"
    service = find(rendered, "Service", name, namespace)
    assert parts.port in {p["port"] for p in service["spec"]["ports"]}, (url, service["spec"]["ports"])
    return service


def test_the_prefix_is_the_settings_prefix():
    assert pipeline_settings()["prefix"] == PREFIX


def test_every_setting_is_checked_against_the_render_or_is_no_name():
    """A new setting must join NAMES (and be checked below) or NOT_NAMES: none escapes the contract."""
    assert set(pipeline_settings()["defaults"]) == NAMES | NOT_NAMES


def test_every_variable_is_a_setting_the_pipelines_read(platform):
    variables = chart_variables(platform)
    assert f"{PREFIX}MODE" in variables, "Airflow gets the pipelines' settings"
    fields = set(pipeline_settings()["defaults"])
    unknown = {name for name in variables if name.removeprefix(PREFIX).lower() not in fields}
    assert not unknown, f"{platform.profile}: not fields of PipelineSettings: {sorted(unknown)}"
    assert variables[f"{PREFIX}MODE"] == "kubernetes"


def test_every_airflow_container_and_worker_pod_gets_the_same_settings(platform):
    sources = {json.dumps(c.get("envFrom"), sort_keys=True) for c in airflow_containers(platform)}
    assert len(sources) == 1, sources


@pytest.mark.parametrize("source", ["chart", "defaults"])
def test_every_name_in_the_settings_is_rendered(platform, renderer, chart_values, source):
    """With the chart's values, and with the settings' own defaults, every name is an object of the render."""
    require_real_subcharts()
    settings = effective(platform) if source == "chart" else pipeline_settings()["defaults"]
    prereqs = renderer.render(PREREQS, platform.profile)
    namespace = settings["namespace"]
    assert namespace == "mlp"
    for account in (settings["service_account"], settings["promoter_service_account"]):
        find(platform, "ServiceAccount", account, namespace)
    task_env = find(platform, "Secret", settings["task_env_secret"], namespace)
    warehouse = find(platform, "Secret", settings["warehouse_secret"], namespace)["data"]
    assert settings["warehouse_secret_key"] in warehouse
    find(platform, "Namespace", settings["models_namespace"], "")
    find(platform, "Secret", settings["model_storage_secret"], settings["models_namespace"])

    dsn = dict(item.split("=", 1) for item in settings["warehouse_dsn"].split())
    (cluster,) = platform.of_kind("Cluster")
    assert dsn["host"] == f"{cluster['metadata']['name']}-rw.{namespace}.svc" and dsn["port"] == "5432"
    databases = {(d["spec"]["name"], d["spec"]["owner"]) for d in platform.of_kind("Database")}
    assert (dsn["dbname"], dsn["user"]) in databases
    assert dsn["user"] == base64.b64decode(warehouse["username"]).decode()

    prometheus = service_of(settings["prometheus_url"], prereqs)
    assert prometheus["spec"]["selector"].get("app.kubernetes.io/name") == "prometheus"
    service_of(settings["mlflow_tracking_uri"], platform)
    secret = {k: base64.b64decode(v).decode() for k, v in task_env["data"].items()}
    assert secret["MLFLOW_TRACKING_URI"] == settings["mlflow_tracking_uri"], "pods and Airflow reach one MLflow"
    service_of(secret["MLFLOW_S3_ENDPOINT_URL"], platform)
    bucket = urlsplit(settings["artifact_root"]).netloc
    assert bucket in {b["name"] for b in chart_values["mlplatform"]["minio"]["buckets"]}


@pytest.mark.parametrize(
    ("setting", "value"), [("promoter_image", "promoterImage"), ("model_runtime_image", "modelRuntimeImage")]
)
def test_the_task_images_are_ours_and_follow_the_registry(platform, chart_values, setting, value):
    image = effective(platform)[setting]
    ours = chart_values["mlplatform"]["airflowTasks"][value]
    assert image.endswith(f"/{ours['repository']}:{ours['tag']}")
    assert image in chart_render.images(platform.profile.split("+")), "make vendor lists it"
    if "airgapped" in platform.profile:
        assert image.startswith("registry.example.internal/")


def test_recipes_configmap_is_the_repositorys_recipes_with_their_dag_files(platform, chart_values):
    tasks = chart_values["mlplatform"]["airflowTasks"]
    data = platform.get("ConfigMap", tasks["recipes"]["configMap"])["data"]
    expected = {p.name: p.read_text() for p in sorted(RECIPES.iterdir()) if p.suffix in {".yaml", ".yml", ".py"}}
    if "airgapped" in platform.profile:  # images.registry: training images come from the private registry
        private = "image: registry.example.internal/"
        expected = {name: text.replace("image: ghcr.io/", private) for name, text in expected.items()}
        assert any(private in text for text in expected.values())
    assert {k: v for k, v in data.items() if k != ".airflowignore"} == expected
    assert any(name.endswith(".py") for name in expected) and any(name.endswith(".yaml") for name in expected)


def dag_bundles(rendered: Rendered) -> dict[str, str]:
    """Airflow's DAG bundles as its rendered airflow.cfg lists them: name -> path."""
    config = next(d for d in rendered.of_kind("ConfigMap") if "airflow.cfg" in d.get("data", {}))
    line = next(x for x in config["data"]["airflow.cfg"].splitlines() if x.startswith("dag_bundle_config_list"))
    return {bundle["name"]: bundle["kwargs"]["path"] for bundle in json.loads(line.split("=", 1)[1])}


def test_the_recipes_bundle_is_mounted_where_airflow_reads_it(platform):
    """dag-processor, scheduler, triggerer, API server and worker pods mount the recipes where the bundle is."""
    require_real_subcharts()
    ((_, path),) = dag_bundles(platform).items()
    assert path == effective(platform)["recipes_dir"]
    containers = airflow_containers(platform)
    assert {c["name"] for c in containers} == DAG_CONTAINERS
    for container in containers:
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert path in mounts, f"{container['name']} does not mount the recipes at {path}"
    volumes = [v for d in platform.workloads() for v in d["spec"]["template"]["spec"].get("volumes", [])]
    recipe_volumes = [v for v in volumes if v["name"] == mounts[path]]
    assert recipe_volumes and all(v["configMap"]["name"] == "mlp-pipeline-recipes" for v in recipe_volumes)


@pytest.mark.parametrize(
    ("renamed", "named"),
    [
        ("airflowTasks.settingsConfigMap=team-settings", "airflow.extraEnvFrom must hold"),
        ("airflowTasks.recipes.configMap=team-recipes", "airflow.volumes must mount ConfigMap team-recipes"),
    ],
)
def test_renaming_a_configmap_on_one_side_only_is_refused(render_failure, renamed, named):
    assert named in render_failure(renamed)


def kubelet_view(data: dict[str, str], folder: Path) -> None:
    """Lay out a ConfigMap as the kubelet mounts it: files in a timestamped folder, `..data` linked to it,
    and one link per key, which is what Airflow's DAG discovery walks in the pods."""
    real = folder / "..2026_12_01_00_00_00.000000001"
    real.mkdir(parents=True)
    for key, text in data.items():
        (real / key).write_text(text)
    (folder / "..data").symlink_to(real.name)
    for key in data:
        (folder / key).symlink_to(f"..data/{key}")


PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": bag.import_errors,
                  "files": sorted({d.fileloc for d in bag.dags.values()})}))
"""


def in_pipelines_env(args: list[str], settings: dict[str, str], airflow_home: Path) -> str:
    """Run the pipelines' Python as an Airflow container of the chart does: with the chart's MLP_PIPELINES__*
    settings (none of this process's) and an Airflow home of its own. Returns its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    env |= settings | {"AIRFLOW_HOME": str(airflow_home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    result = subprocess.run(
        [str(PIPELINES_PYTHON), *args], capture_output=True, text=True, env=env, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def parse_as_airflow(folder: Path, settings: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    output = in_pipelines_env(["-c", PARSE, str(folder)], settings, tmp_path / "airflow-home")
    return dict(json.loads(output.strip().splitlines()[-1]))


def test_airflow_builds_every_recipes_dag_from_the_mounted_configmap(dev, tmp_path):
    """The real DAG factory in the pipelines' environment, on the ConfigMap as the kubelet lays it out, with
    the chart's MLP_PIPELINES__* settings: one DAG per recipe (and its signal watcher), no import error, and
    no second copy from the volume's own folders."""
    folder = tmp_path / "recipes"
    kubelet_view(dev.get("ConfigMap", "mlp-pipeline-recipes")["data"], folder)
    parsed = parse_as_airflow(folder, chart_variables(dev), tmp_path)
    assert parsed["errors"] == {}
    assert "fraud-detection" in parsed["dags"] and "fraud-detection-signal" in parsed["dags"]
    assert parsed["files"] == [str(folder / "fraud-detection.py")]


def test_an_invalid_recipe_is_an_import_error_that_names_it_and_the_others_keep_working(dev, tmp_path):
    data = dict(dev.get("ConfigMap", "mlp-pipeline-recipes")["data"])
    broken = yaml.safe_load(data["fraud-detection.yaml"])
    broken |= {"name": "broken-recipe", "timeout_minutes": -5}
    data["broken-recipe.yaml"] = yaml.safe_dump(broken)
    data["broken-recipe.py"] = data["fraud-detection.py"]
    folder = tmp_path / "recipes"
    kubelet_view(data, folder)
    parsed = parse_as_airflow(folder, chart_variables(dev), tmp_path)
    assert list(parsed["errors"]) == [str(folder / "broken-recipe.py")]
    error = parsed["errors"][str(folder / "broken-recipe.py")]
    assert "broken-recipe.yaml" in error and "timeout_minutes" in error, error
    assert "fraud-detection" in parsed["dags"]


def test_packaged_recipes_can_be_left_out(render):
    data = render("airflowTasks.recipes.packaged=false").get("ConfigMap", "mlp-pipeline-recipes")["data"]
    assert list(data) == [".airflowignore"]


def test_no_values_file_names_a_dags_repository(chart_values):
    """DAGs need no repository: the recipes ConfigMap is the default, git-sync only what a team configures."""
    for source, values in chart_values.items():
        git_sync = values.get("airflow", {}).get("dags", {}).get("gitSync", {})
        assert "repo" not in git_sync, f"{source} names a DAG repository: {git_sync.get('repo')}"


def test_the_promoter_may_apply_seldondeployments_in_the_models_namespace_only(dev, chart_values):
    tasks, seldon = chart_values["mlplatform"]["airflowTasks"], chart_values["mlplatform"]["seldon"]
    role = dev.get("Role", "mlp-promoter")
    assert role["metadata"]["namespace"] == seldon["namespace"]
    (rule,) = role["rules"]
    assert rule["apiGroups"] == ["machinelearning.seldon.io"] and rule["resources"] == ["seldondeployments"]
    assert {"create", "patch", "get"} <= set(rule["verbs"]), "server-side apply creates or patches"
    assert not {"delete", "deletecollection", "*"} & set(rule["verbs"])
    binding = dev.get("RoleBinding", "mlp-promoter")
    assert binding["metadata"]["namespace"] == seldon["namespace"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": tasks["promoterServiceAccount"], "namespace": "mlp"}
    ]


def test_training_pods_account_holds_no_right(dev, chart_values):
    name = chart_values["mlplatform"]["airflowTasks"]["pipelineServiceAccount"]
    assert name == pipeline_settings()["defaults"]["service_account"], "the account the DAG factory names"
    dev.get("ServiceAccount", name)
    bound = [s for b in dev.of_kind("RoleBinding") + dev.of_kind("ClusterRoleBinding") for s in b["subjects"]]
    assert name not in {s["name"] for s in bound if s["kind"] == "ServiceAccount"}


def readme_values(heading: str) -> str:
    """The first YAML block under a heading of charts/README.md: documentation that is rendered, not just read."""
    text = (REPO / "charts" / "README.md").read_text()
    section = text[text.index(f"## {heading}") :]
    return section[section.index("```yaml\n") + len("```yaml\n") : section.index("\n```", section.index("```yaml"))]


def test_a_teams_recipes_repository_is_a_second_bundle_synced_by_git_sync(renderer, tmp_path):
    """The values charts/README.md gives for a team's own recipes repository render as it says."""
    require_real_subcharts()
    team = tmp_path / "team.yaml"
    team.write_text(readme_values("Recipes from your own repository"))
    git_sync = yaml.safe_load(team.read_text())["airflow"]["dags"]["gitSync"]
    result = renderer.run("mlplatform", ["-f", str(REPO / "values" / "dev.yaml"), "-f", str(team)])
    assert result.returncode == 0, result.stderr
    rendered = Rendered("mlplatform", "dev+team", list(chart_render.documents(result.stdout)), result.stdout)

    assert dag_bundles(rendered) == {
        "recipes": "/opt/mlp/recipes",
        "team-recipes": f"/opt/airflow/dags/repo/{git_sync['subPath']}",
    }
    processor = rendered.get("Deployment", "mlp-dag-processor")["spec"]["template"]["spec"]
    assert "git-sync" in {c["name"] for c in processor["containers"]}
    worker = rendered.airflow_pod_template()["spec"]
    assert "git-sync-init" in {c["name"] for c in worker.get("initContainers", [])}
    assert any(m["mountPath"] == "/opt/mlp/recipes" for m in worker["containers"][0]["volumeMounts"])
    assert list(rendered.get("ConfigMap", "mlp-pipeline-recipes")["data"]) == [".airflowignore"]
