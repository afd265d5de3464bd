"""The ML loop's Kubernetes side on a real API server, after `make install` of the dev profile.

Real: the API server's admission of the pods the DAG factory builds (server-side dry run, as the Airflow
worker's ServiceAccount), the Seldon Core 1.17.1 CRD's schema, RBAC of the promoter's own ServiceAccount
(authenticated with a token from the TokenRequest API, not as admin), the tracking server the promoter decides
on (the local platform's MLflow) and the DAG factory itself. Simulated (see test_install.py): no pod runs and no
Seldon operator reconciles, so this does not prove that a model is served; it proves that every object of the
loop is accepted, references what exists, and that only the promoter may publish models.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mlflow import MlflowClient
from mlplatform.isolation import free_ports
from mlplatform.polling import poll

from tests.charts.conftest import require_real_subcharts
from tests.charts.test_pipelines import in_pipelines_env, kubelet_view
from tests.charts.test_seldon import assert_cpu_autoscaled
from tests.cluster.conftest import LocalCluster
from tests.cluster.test_install import make, objects, remove_platform, succeeded
from tests.promotion.helpers import PROMOTER, Worker, aliases, audit, promote_best, unique
from tests.promotion.helpers import promote as run_promoter

NAMESPACE, MODELS = "mlp", "mlp-models"
POLICY = json.dumps({"metric": "accuracy", "canary_traffic": 25})


@dataclass(frozen=True)
class Loop:
    """The installed platform, and a registered model name the chart serves (a `seldon.servedModels` entry)."""

    model: str


@pytest.fixture(scope="module")
def loop(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    require_real_subcharts()
    model = unique("loop-model")
    served = tmp_path_factory.mktemp("loop") / "served.yaml"
    served.write_text(json.dumps({"seldon": {"servedModels": ["fraud-detector", model]}}))
    try:
        succeeded(make(cluster, "install", PROFILE="dev", HELM_ARGS=f"-f {served}"))
        yield Loop(model)
    finally:
        remove_platform(cluster)


def live(cluster: LocalCluster, kind: str, name: str, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)
    return found


# -- The pods the DAG factory starts -------------------------------------------------------------------------


def worker_account(cluster: LocalCluster) -> str:
    """The ServiceAccount the KubernetesExecutor's worker pods run as, from the live pod template."""
    for config in objects(cluster, "configmaps", NAMESPACE):
        template = (config.get("data") or {}).get("pod_template_file.yaml")
        if template:
            return str(yaml.safe_load(template)["spec"]["serviceAccountName"])
    raise AssertionError("no pod template ConfigMap: the Airflow chart did not install")


def factory_pods(cluster: LocalCluster, folder: Path) -> list[dict[str, Any]]:
    """Every pod the DAG factory builds for every recipe, in the settings the chart gave Airflow, with the
    recipes the chart mounted (laid out as the kubelet mounts them)."""
    settings = live(cluster, "configmap", "mlp-pipelines-settings", NAMESPACE)["data"]
    recipes = live(cluster, "configmap", "mlp-pipeline-recipes", NAMESPACE)["data"]
    kubelet_view(recipes, folder)
    settings |= {"MLP_PIPELINES__RECIPES_DIR": str(folder)}
    pods = []
    for name in sorted(key.removesuffix(".yaml") for key in recipes if key.endswith(".yaml")):
        shown = in_pipelines_env(["-m", "mlpipelines.cli", "show", name], settings, folder.parent / "airflow")
        for dag in yaml.safe_load_all(shown):
            pods += [task["pod"] for task in dag["tasks"] if "pod" in task]
    return pods


def references(pod: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every ServiceAccount, Secret and ConfigMap a pod needs to start."""
    spec = pod["spec"]
    found = {("serviceaccount", spec["serviceAccountName"])}
    for container in spec.get("initContainers", []) + spec["containers"]:
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                found.add(("secret", source["secretRef"]["name"]))
            if "configMapRef" in source:
                found.add(("configmap", source["configMapRef"]["name"]))
        for item in container.get("env", []):
            ref = item.get("valueFrom", {})
            if "secretKeyRef" in ref:
                found.add(("secret", ref["secretKeyRef"]["name"]))
            if "configMapKeyRef" in ref:
                found.add(("configmap", ref["configMapKeyRef"]["name"]))
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            found.add(("secret", volume["secret"]["secretName"]))
        if "configMap" in volume:
            found.add(("configmap", volume["configMap"]["name"]))
    return found


def test_every_pod_the_factory_builds_is_accepted_as_the_airflow_worker(loop, cluster, tmp_path):
    pods = factory_pods(cluster, tmp_path / "recipes")
    steps = sorted(pod["metadata"]["labels"]["mlplatform/step"] for pod in pods)
    assert steps == ["batch", "judge", "promote", "train"], steps
    account = f"system:serviceaccount:{NAMESPACE}:{worker_account(cluster)}"
    for pod in pods:
        created = cluster.kubectl(
            "create", "--dry-run=server", "-n", NAMESPACE, f"--as={account}", "-o", "json", "-f", "-",
            stdin=json.dumps(pod), check=False,
        )  # fmt: skip
        assert created.returncode == 0, f"{pod['metadata']['name']}: {created.stderr}"
        accepted = json.loads(created.stdout)
        assert accepted["metadata"]["namespace"] == NAMESPACE
        assert accepted["spec"]["serviceAccountName"] == pod["spec"]["serviceAccountName"]
        for kind, name in sorted(references(pod)):
            assert cluster.kubectl("get", kind, name, "-n", NAMESPACE, check=False).returncode == 0, (
                f"{pod['metadata']['name']} needs {kind}/{name}, which does not exist"
            )
        for item in pod["spec"]["containers"][0].get("env", []):
            key = item.get("valueFrom", {}).get("secretKeyRef")
            if key:
                assert key["key"] in live(cluster, "secret", key["name"], NAMESPACE)["data"], key


def test_the_worker_may_not_start_pods_elsewhere(loop, cluster, tmp_path):
    (train, *_) = [p for p in factory_pods(cluster, tmp_path / "recipes") if p["metadata"]["name"].startswith("train")]
    train["metadata"]["namespace"] = MODELS
    account = f"system:serviceaccount:{NAMESPACE}:{worker_account(cluster)}"
    refused = cluster.kubectl(
        "create", "--dry-run=server", "-n", MODELS, f"--as={account}", "-f", "-", stdin=json.dumps(train), check=False
    )
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), refused.stderr


def test_the_pods_meet_the_restricted_pod_security_standard(loop, cluster, namespace, tmp_path):
    """In a namespace that enforces the `restricted` Pod Security Standard, as the models namespace does, the
    API server's own Pod Security admission accepts the factory's pods (server-side dry run)."""
    assert live(cluster, "namespace", MODELS, "")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    )
    cluster.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    for pod in factory_pods(cluster, tmp_path / "recipes"):
        account = pod["spec"]["serviceAccountName"]
        if cluster.kubectl("get", "serviceaccount", account, "-n", namespace, check=False).returncode != 0:
            cluster.kubectl("create", "serviceaccount", account, "-n", namespace)
        pod["metadata"]["namespace"] = namespace
        checked = cluster.kubectl(
            "create", "--dry-run=server", "-n", namespace, "-f", "-", stdin=json.dumps(pod), check=False
        )
        assert checked.returncode == 0 and "PodSecurity" not in checked.stderr, checked.stderr


# -- The promoter, as its own ServiceAccount ------------------------------------------------------------------


def token_kubeconfig(cluster: LocalCluster, account: str, folder: Path) -> Path:
    """A kubeconfig that authenticates as `account` of the platform's namespace with a token from the
    TokenRequest API (`kubectl create token`): what the promote pod's projected token is."""
    token = cluster.kubectl("create", "token", account, "-n", NAMESPACE, "--duration=20m").stdout.strip()
    admin = json.loads(cluster.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "mlp-local", "cluster": admin["clusters"][0]["cluster"]}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": "mlp-local", "user": account, "namespace": NAMESPACE}}],
        "current-context": account,
    }
    path = folder / f"{account}.kubeconfig"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def as_account(cluster: LocalCluster, account: str, folder: Path) -> dict[str, str]:
    """The promoter's environment outside a pod: Tempo then loads KUBECONFIG instead of in-cluster config."""
    return {
        "KUBECONFIG": str(token_kubeconfig(cluster, account, folder)),
        "KUBERNETES_SERVICE_HOST": "",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def publish_args(cluster: LocalCluster) -> list[str]:
    """What the promote pod passes, from the settings the chart gave Airflow."""
    settings = live(cluster, "configmap", "mlp-pipelines-settings", NAMESPACE)["data"]
    return [
        "--namespace",
        settings["MLP_PIPELINES__MODELS_NAMESPACE"],
        "--secret-name",
        settings["MLP_PIPELINES__MODEL_STORAGE_SECRET"],
        "--artifact-root",
        settings["MLP_PIPELINES__ARTIFACT_ROOT"],
    ]


def predictors(cluster: LocalCluster, name: str) -> dict[str, tuple[int, dict[str, str]]]:
    """The live SeldonDeployment's predictors: name -> (traffic, labels)."""
    deployment = live(cluster, "seldondeployment", name, MODELS)
    return {p["name"]: (p.get("traffic", 100), p.get("labels", {})) for p in deployment["spec"]["predictors"]}


def traffic(cluster: LocalCluster, name: str) -> dict[str, int]:
    return {predictor: share for predictor, (share, _) in predictors(cluster, name).items()}


def test_the_promoter_rolls_out_single_canary_finalize_and_rollback_with_its_own_token(
    loop: Loop, cluster: LocalCluster, tracking_uri: str, worker: Worker, client: MlflowClient, tmp_path: Path
) -> None:
    env = as_account(cluster, "mlp-promoter", tmp_path)
    extra = publish_args(cluster)
    experiment, model = unique("loop"), loop.model
    service = live(cluster, "service", f"model-{model}", MODELS)
    selector = service["spec"]["selector"]

    def promote(accuracy: float) -> dict[str, Any]:
        worker.train(experiment, {"seed": int(accuracy * 100), "metrics": {"accuracy": accuracy}})
        outcome = promote_best(tracking_uri, experiment, model, POLICY, "seldon", *extra, env=env)
        assert outcome.code == 0, outcome.stderr
        assert outcome.decision is not None
        return outcome.decision

    single = promote(0.80)
    assert single["decision"] == "promoted" and single["applied"] == f"{MODELS}/{model}"
    assert traffic(cluster, model) == {f"v{single['version']}": 100}

    canary = promote(0.90)
    assert canary["decision"] == "canary"
    live_predictors = predictors(cluster, model)
    assert traffic(cluster, model) == {f"v{single['version']}": 75, f"v{canary['version']}": 25}
    for name, (_, labels) in live_predictors.items():
        assert selector.items() <= labels.items(), f"predictor {name} is not behind Service model-{model}"
    roles = {labels["mlplatform.io/predictor"] for _, labels in live_predictors.values()}
    assert roles == {"champion", "canary"}, "the serving PodMonitor tells them apart"

    finalized = run_promoter(tracking_uri, "finalize", "--model-name", model, *extra, env=env)
    assert finalized.code == 0, finalized.stderr
    assert traffic(cluster, model) == {f"v{canary['version']}": 100}
    assert aliases(client, model) == {"champion": canary["version"]}

    again = promote(0.95)
    assert again["decision"] == "canary"
    rolled = run_promoter(tracking_uri, "rollback", "--model-name", model, "--reason", "loop test", *extra, env=env)
    assert rolled.code == 0, rolled.stderr
    assert traffic(cluster, model) == {f"v{canary['version']}": 100}
    assert audit(client, model, again["version"])["decision"] == "rolled_back"
    applied = cluster.kubectl("get", "seldondeployment", model, "-n", MODELS, "-o", "json", "--show-managed-fields")
    managers = json.loads(applied.stdout)["metadata"]["managedFields"]
    assert {m["manager"] for m in managers if m["operation"] == "Apply"} == {"mlp-promoter"}


def test_an_account_without_the_grant_is_refused_and_nothing_is_published(
    loop: Loop, cluster: LocalCluster, tracking_uri: str, worker: Worker, client: MlflowClient, tmp_path: Path
) -> None:
    env = as_account(cluster, "mlp-pipelines", tmp_path)
    experiment, model = unique("refused"), unique("refused-model")
    worker.train(experiment, {"seed": 3, "metrics": {"accuracy": 0.8}})
    outcome = promote_best(tracking_uri, experiment, model, POLICY, "seldon", *publish_args(cluster), env=env)
    assert outcome.code == 1
    assert "refused" in outcome.stderr and "mlp-promoter" in outcome.stderr, outcome.stderr
    missing = cluster.kubectl("get", "seldondeployment", model, "-n", MODELS, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    (version,) = client.search_model_versions(f"name = '{model}'")
    assert audit(client, model, version.version)["decision"] == "rollout_failed"
    assert aliases(client, model) == {}, "the registry names no champion that is not served"


def test_an_autoscaling_policy_reaches_the_cluster_as_seldons_hpa_spec(
    loop: Loop, cluster: LocalCluster, tracking_uri: str, worker: Worker, tmp_path: Path
) -> None:
    """The promoter, as its own account, applies a policy's `autoscaling` as Seldon 1.17's hpaSpec: the API server
    keeps every field under the CRD's schema (one it did not know would be pruned), and the predictor states no
    replicas (Seldon leaves them to the autoscaler)."""
    env = as_account(cluster, "mlp-promoter", tmp_path)
    experiment, model = unique("scaled"), unique("scaled-model")
    worker.train(experiment, {"seed": 11, "metrics": {"accuracy": 0.8}})
    scaling = {"min_replicas": 1, "max_replicas": 3, "target_cpu_utilization": 65}
    policy = json.dumps({**json.loads(POLICY), "autoscaling": scaling})
    outcome = promote_best(tracking_uri, experiment, model, policy, "seldon", *publish_args(cluster), env=env)
    assert outcome.code == 0, outcome.stderr
    assert outcome.decision is not None and outcome.decision["applied"] == f"{MODELS}/{model}"
    try:
        (predictor,) = live(cluster, "seldondeployment", model, MODELS)["spec"]["predictors"]
        assert_cpu_autoscaled(predictor, 1, 3, 65)
    finally:
        cluster.kubectl("delete", "seldondeployment", model, "-n", MODELS, "--wait=false", check=False)


def test_the_model_management_api_reports_what_the_cluster_serves(
    loop: Loop, cluster: LocalCluster, tracking_uri: str, worker: Worker, tmp_path: Path
) -> None:
    """`mlp-models-api` with the seldon target, as the promoter's account: what serves is read from the live
    SeldonDeployment. No Seldon operator runs here (simulated cluster), so no predictor is ever Available."""
    env = as_account(cluster, "mlp-promoter", tmp_path)
    experiment, model = unique("api"), unique("api-model")
    worker.train(experiment, {"seed": 5, "metrics": {"accuracy": 0.8}})
    outcome = promote_best(tracking_uri, experiment, model, POLICY, "seldon", *publish_args(cluster), env=env)
    assert outcome.code == 0 and outcome.decision, outcome.stderr
    version = outcome.decision["version"]
    (port,) = free_ports(1)
    api_env = {
        **os.environ,
        **env,
        "MLP_MODELS_API_PORT": str(port),
        "MLP_MODELS_API_TRACKING_URI": tracking_uri,
        "MLP_MODELS_API_TARGET": "seldon",
        "MLP_MODELS_API_TARGET_ARGS": json.dumps(publish_args(cluster)),
    }
    url = f"http://127.0.0.1:{port}/models/{model}"
    process = subprocess.Popen([str(PROMOTER.with_name("mlp-models-api"))], env=api_env)

    def shown() -> dict[str, Any] | None:
        try:
            response = httpx.get(url, timeout=30, trust_env=False)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    try:
        found = poll(shown, until=bool, timeout=60, interval=0.5, error=lambda _: AssertionError(f"no answer: {url}"))
        assert found is not None
        (served,) = found["served"]
        assert (served["version"], served["role"], served["traffic"]) == (version, "champion", 100)
        assert served["endpoint"] == f"http://{model}-v{version}.{MODELS}.svc:8000/v2/models/{model}/infer"
        assert (served["ready"], served["state"]) == (False, "Creating"), served  # the operator would set Available
        assert found["healthy"] is False
        cluster.kubectl("delete", "seldondeployment", model, "-n", MODELS)
        gone = shown()
        assert gone is not None and gone["served"][0]["state"] == f"no SeldonDeployment {MODELS}/{model}"
    finally:
        process.terminate()
        process.wait(timeout=20)
