"""`make install` on a real Kubernetes API server, for the dev, prod and airgapped profiles.

The same `make install KUBE_CONTEXT=mlp-local PROFILE=…` a user runs, with the real upstream
subcharts, against the local control plane (`mlp cluster up`). Real here: the API server's validation
of every object (built-in schemas, CRD schemas and their CEL rules), Helm's install, `--wait`,
`--atomic` rollback, hooks and stored releases, RBAC answered by the API server, the controllers
(Deployments, StatefulSets, Jobs, garbage collection, namespaces) and the scheduler.
Simulated by kwok: nodes, pod readiness and Job completion (no container runs), and what the operators
would report (their custom resources' Ready conditions; their webhook configurations removed, as no
webhook server runs). So this proves the releases install, upgrade, roll back and uninstall; it does
not prove that any container starts, that an operator reconciles, or that a network policy is enforced.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.charts.conftest import chart_render, require_real_subcharts
from tests.cluster.conftest import LocalCluster

REPO = Path(__file__).resolve().parents[2]
PROFILES = ["dev", "prod", "airgapped"]
NAMESPACES = {"platform": "mlp", "prereqs": "mlp-system", "models": "mlp-models"}
SECRET_LIMIT = 2**20


def make(cluster: LocalCluster, *targets: str, tree: Path = REPO, **variables: str) -> subprocess.CompletedProcess[str]:
    """`make -f charts/chart.mk` of a tree (this one by default) as a user runs it, against the local
    control plane."""
    settings = {"KUBE_CONTEXT": cluster.context, "TIMEOUT": "4m", "HELM": chart_render.helm(), **variables}
    return subprocess.run(
        ["make", "-f", "charts/chart.mk", *targets, *(f"{k}={v}" for k, v in settings.items())],
        cwd=tree,
        env=cluster.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def helm(cluster: LocalCluster, *args: str) -> str:
    result = subprocess.run(
        [chart_render.helm(), "--kube-context", cluster.context, *args],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def objects(cluster: LocalCluster, kinds: str, namespace: str | None = None) -> list[dict[str, Any]]:
    scope = ["-n", namespace] if namespace else []
    items: list[dict[str, Any]] = json.loads(cluster.kubectl("get", kinds, *scope, "-o", "json").stdout)["items"]
    return items


def generated_credentials(cluster: LocalCluster) -> dict[tuple[str, str], dict[str, str]]:
    """Every Secret the releases generate (logins, keys), by namespace and name, with its data."""
    found = {}
    for namespace in NAMESPACES.values():
        for secret in objects(cluster, "secrets", namespace):
            name = secret["metadata"]["name"]
            if secret["type"] in {"Opaque", "kubernetes.io/basic-auth"} and not name.startswith("sh.helm.release"):
                found[(namespace, name)] = secret.get("data", {})
    return found


# Removed by the simulation as they appear: no operator runs to answer them (see the module's docstring).
SIMULATED_AWAY = {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}


def release_manifest(cluster: LocalCluster, release: str, namespace: str) -> str:
    """The objects of a release as a YAML stream, less those the simulation removes."""
    manifest = helm(cluster, "get", "manifest", release, "-n", namespace)
    kept = [d for d in chart_render.documents(manifest) if d["kind"] not in SIMULATED_AWAY]
    for doc in kept:  # as Helm applies them: subcharts leave the namespace to the release's
        doc["metadata"].setdefault("namespace", namespace)
    return "".join(f"---\n{json.dumps(d)}\n" for d in kept)


def generations(cluster: LocalCluster, release: str, namespace: str) -> dict[str, Any]:
    """metadata.generation (spec changes) or data of every object of a release, by kind and name."""
    manifest = release_manifest(cluster, release, namespace)
    live = json.loads(cluster.kubectl("get", "-f", "-", "-o", "json", stdin=manifest).stdout)
    items = live["items"] if live.get("kind") == "List" else [live]
    return {
        f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": o["metadata"].get(
            "generation", o.get("data")
        )
        for o in items
    }


def stored_release_bytes(cluster: LocalCluster, release: str, namespace: str) -> int:
    """Size of the newest stored release Secret's payload, as the API server holds it."""
    secrets = objects(cluster, "secrets", namespace)
    mine = [s for s in secrets if s["metadata"].get("labels", {}).get("name") == release]
    newest = max(mine, key=lambda s: int(s["metadata"]["labels"]["version"]))
    return len(base64.b64decode(newest["data"]["release"]))


@dataclass
class Installed:
    profile: str
    first: str
    credentials: dict[tuple[str, str], dict[str, str]]


@pytest.fixture(scope="module", params=PROFILES)
def installed(request: pytest.FixtureRequest, cluster: LocalCluster) -> Iterator[Installed]:
    """Both releases installed by `make install` with one profile; everything removed afterwards."""
    require_real_subcharts()
    profile = request.param
    try:
        output = succeeded(make(cluster, "install", PROFILE=profile))
        yield Installed(profile, output, generated_credentials(cluster))
    finally:
        remove_platform(cluster)


def remove_platform(cluster: LocalCluster) -> None:
    """Both releases and everything they left (kept Secrets and volumes): the next install starts afresh."""
    make(cluster, "uninstall")
    for namespace in NAMESPACES.values():
        cluster.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--timeout=3m", check=False)


def test_both_releases_install_in_order_and_every_object_is_accepted(installed, cluster):
    output = installed.first
    assert output.index("CRDs applied and established") < output.index("mlp-prereqs") < output.index(" mlp charts/")
    assert "All platform components are ready." in output
    for release, namespace in (("mlp-prereqs", "mlp-system"), ("mlp", "mlp")):
        status = json.loads(helm(cluster, "status", release, "-n", namespace, "-o", "json"))
        assert status["info"]["status"] == "deployed", release
        cluster.kubectl("get", "-f", "-", "-o", "name", stdin=release_manifest(cluster, release, namespace))


def test_profile_shapes_what_runs(installed, cluster):
    deployments = {d["metadata"]["name"]: d for d in objects(cluster, "deployments", "mlp")}
    replicas = deployments["mlp-mlflow"]["status"].get("readyReplicas")
    assert replicas == (2 if installed.profile == "prod" else 1)
    pods = objects(cluster, "pods", "mlp") + objects(cluster, "pods", "mlp-system")
    images = {c["image"] for pod in pods for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]}
    if installed.profile == "airgapped":
        assert all(image.startswith("registry.example.internal/") for image in images), sorted(images)
    else:
        assert not any(image.startswith("registry.example.internal/") for image in images)


def test_prod_stream_processors_are_sized_by_their_autoscalers(installed, cluster):
    """prod enables faust.autoscaling: the API server accepts an autoscaling/v2 HPA per processor Deployment, and
    the real HPA controller brings each Deployment (which sets no replicas of its own) up to minReplicas; that
    needs no metrics, which only kwok's pods would give. The other profiles keep fixed replicas."""
    processors = {d["metadata"]["name"]: d for d in objects(cluster, "deployments", "mlp")}
    processors = {name: d for name, d in processors.items() if name.startswith("mlp-faust-")}
    assert processors
    autoscalers = {h["spec"]["scaleTargetRef"]["name"]: h for h in objects(cluster, "horizontalpodautoscalers", "mlp")}
    if installed.profile != "prod":
        assert not autoscalers
        return
    assert set(autoscalers) == set(processors)
    for name, hpa in autoscalers.items():
        assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        least = hpa["spec"]["minReplicas"]
        assert least >= 2
        scaled = cluster.kubectl(
            "wait", f"deployment/{name}", "-n", "mlp", f"--for=jsonpath={{.spec.replicas}}={least}", "--timeout=120s",
            check=False,
        )  # fmt: skip
        assert scaled.returncode == 0, f"the HPA did not bring {name} to {least} replicas: {scaled.stderr}"


def test_stored_releases_stay_far_below_the_secret_limit(installed, cluster):
    prereqs = stored_release_bytes(cluster, "mlp-prereqs", "mlp-system")
    platform = stored_release_bytes(cluster, "mlp", "mlp")
    print(f"\n{installed.profile}: stored releases mlp-prereqs {prereqs} bytes, mlp {platform} bytes")
    assert prereqs < 0.4 * SECRET_LIMIT
    assert platform < 256 * 1024


# -- RBAC, answered by the API server (SubjectAccessReview through `kubectl auth can-i --as`) ----------


def can(cluster: LocalCluster, account: str, verb: str, resource: str, namespace: str | None) -> bool:
    scope = ["-n", namespace] if namespace else ["--all-namespaces"]
    who = f"--as=system:serviceaccount:{account}"
    result = cluster.kubectl("auth", "can-i", verb, resource, *scope, who, check=False)
    assert result.stdout.strip() in {"yes", "no"}, result.stderr
    return result.stdout.strip() == "yes"


NEEDS = {
    # (account, verb, resource, namespace): what each workload of ours needs.
    ("mlp:mlp-airflow-task", "create", "pods", "mlp"),
    ("mlp:mlp-airflow-task", "delete", "pods", "mlp"),
    ("mlp:mlp-airflow-task", "get", "pods/log", "mlp"),
    ("mlp:mlp-airflow-scheduler", "create", "pods", "mlp"),
    ("mlp:mlp-connect", "get", "secrets/mlp-pg-debezium", "mlp"),
    ("mlp:mlp-promoter", "create", "seldondeployments.machinelearning.seldon.io", "mlp-models"),
    ("mlp:mlp-promoter", "patch", "seldondeployments.machinelearning.seldon.io", "mlp-models"),
    # The models API runs as the promoter: it reads the SeldonDeployments' state.
    ("mlp:mlp-promoter", "get", "seldondeployments.machinelearning.seldon.io", "mlp-models"),
    ("mlp:mlp-promoter", "list", "seldondeployments.machinelearning.seldon.io", "mlp-models"),
}
REFUSED = {
    ("mlp:mlp-airflow-task", "create", "pods", "mlp-models"),
    ("mlp:mlp-airflow-task", "create", "pods", "default"),
    ("mlp:mlp-airflow-task", "get", "secrets", "mlp"),
    ("mlp:mlp-airflow-scheduler", "create", "pods", "mlp-system"),
    ("mlp:mlp-pipelines", "create", "pods", "mlp"),
    ("mlp:mlp-pipelines", "get", "secrets", "mlp"),
    ("mlp:mlp-connect", "get", "secrets/mlp-pg-mlflow", "mlp"),
    ("mlp:mlp-faust", "list", "pods", "mlp"),
    ("mlp:mlp-mlflow", "get", "secrets", "mlp"),
    ("mlp:mlp-model-exporter", "list", "secrets", "mlp"),
    ("mlp:mlp-promoter", "delete", "seldondeployments.machinelearning.seldon.io", "mlp-models"),
    ("mlp:mlp-promoter", "create", "seldondeployments.machinelearning.seldon.io", "mlp"),
    ("mlp:mlp-promoter", "create", "pods", "mlp"),
    ("mlp:mlp-promoter", "get", "secrets", "mlp-models"),
    ("mlp:mlp-pipelines", "create", "seldondeployments.machinelearning.seldon.io", "mlp-models"),
    ("mlp:mlp-airflow-task", "create", "seldondeployments.machinelearning.seldon.io", "mlp-models"),
}


def test_workloads_can_do_what_they_need(installed, cluster):
    missing = [need for need in sorted(NEEDS) if not can(cluster, *need)]
    assert not missing, missing


def test_workloads_can_do_nothing_more(installed, cluster):
    granted = [refused for refused in sorted(REFUSED) if can(cluster, *refused)]
    assert not granted, granted


def test_no_platform_account_reaches_beyond_its_namespace(installed, cluster):
    """Every ServiceAccount of the platform's namespace: no pod or Secret rights in other namespaces."""
    accounts = [a["metadata"]["name"] for a in objects(cluster, "serviceaccounts", "mlp")]
    assert {"mlp-airflow-task", "mlp-pipelines", "mlp-promoter"} <= set(accounts)
    for account in accounts:
        for verb, resource in (("create", "pods"), ("list", "secrets"), ("get", "secrets")):
            for namespace in ("mlp-system", "mlp-models", "default", None):
                assert not can(cluster, f"mlp:{account}", verb, resource, namespace), (account, verb, resource)


# -- the models API and the Ingress in front of it ----------------------------------------------------


def test_the_models_api_runs_as_the_promoter_with_its_token_secret(installed, cluster):
    """Part of every install: the API server took its Deployment, Service, Secret and NetworkPolicy, and the
    pod runs as mlp-promoter with a token mounted for the Kubernetes client."""
    deployments = {d["metadata"]["name"]: d for d in objects(cluster, "deployments", "mlp")}
    api = deployments["mlp-models-api"]
    assert api["status"].get("readyReplicas") == (2 if installed.profile == "prod" else 1)
    pods = [
        p
        for p in objects(cluster, "pods", "mlp")
        if p["metadata"]["labels"].get("app.kubernetes.io/name") == "models-api"
    ]
    assert pods and all(p["spec"]["serviceAccountName"] == "mlp-promoter" for p in pods)
    assert all(p["spec"]["automountServiceAccountToken"] is True for p in pods)
    assert ("mlp", "mlp-models-api-token") in installed.credentials
    cluster.kubectl("-n", "mlp", "get", "service/mlp-models-api", "networkpolicy/mlp-models-api")


INGRESS_ON = (
    "ingress.enabled=true",
    "ingress.host=mlp.example.test",
    "ingress.tls.secretName=mlp-tls",
    "ingress.auth.basicSecret=mlp-htpasswd",
)


def test_the_api_server_accepts_the_authenticated_tls_ingress(installed, cluster):
    """`ingress.enabled` with TLS and basic authentication, rendered with the installed profile: the API server
    accepts its Ingresses (networking.k8s.io/v1, in `mlp` and `mlp-models`) and the NetworkPolicies that admit
    the ingress controller (a server-side dry run: no ingress controller runs here)."""
    text = chart_render.template("mlplatform", [installed.profile], [a for s in INGRESS_ON for a in ("--set", s)])
    docs = [d for d in chart_render.documents(text) if d["kind"] in {"Ingress", "NetworkPolicy"}]
    ingresses = {f"{d['metadata']['namespace']}/{d['metadata']['name']}" for d in docs if d["kind"] == "Ingress"}
    assert ingresses == {"mlp/mlp-models-api", "mlp/mlp-models-api-docs", "mlp-models/mlp-models"}
    manifest = "".join(f"---\n{json.dumps(d)}\n" for d in docs)
    applied = cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "--dry-run=server", "--field-manager=mlp-test", "-f", "-",
        "-o", "json", stdin=manifest,
    )  # fmt: skip
    result = json.loads(applied.stdout)
    items = result["items"] if result.get("kind") == "List" else [result]
    accepted = {f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in items if o["kind"] == "Ingress"}
    assert accepted == ingresses
    for item in items:
        if item["kind"] == "Ingress":
            assert item["spec"]["tls"][0]["secretName"] == "mlp-tls"
            assert item["metadata"]["annotations"]["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
    assert not objects(cluster, "ingresses", "mlp"), "a dry run stores nothing"


# -- upgrades ------------------------------------------------------------------------------------------


# Seldon's chart signs a new webhook certificate on every render (its webhook.yaml calls genCA), so every
# upgrade of the prerequisites replaces that Secret and the webhook's caBundle. Nothing else may change.
RENDERED_ANEW = {
    "Secret/seldon-webhook-server-cert",
    "ValidatingWebhookConfiguration/seldon-validating-webhook-configuration-mlp-system",
}
RELEASES = (("mlp-prereqs", "mlp-system"), ("mlp", "mlp"))


def rendered_objects(cluster: LocalCluster, release: str, namespace: str) -> dict[str, dict[str, Any]]:
    manifest = helm(cluster, "get", "manifest", release, "-n", namespace)
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in chart_render.documents(manifest)}


def changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def test_an_unchanged_upgrade_is_a_no_op(installed, cluster):
    rendered = {r: rendered_objects(cluster, r, n) for r, n in RELEASES}
    live = {r: generations(cluster, r, n) for r, n in RELEASES}
    succeeded(make(cluster, "install", PROFILE=installed.profile))
    for release, namespace in RELEASES:
        assert changed(rendered[release], rendered_objects(cluster, release, namespace)) <= RENDERED_ANEW, release
        moved = changed(live[release], generations(cluster, release, namespace))
        assert {key.split("/", 1)[0] + "/" + key.rsplit("/", 1)[-1] for key in moved} <= RENDERED_ANEW, moved
    assert generated_credentials(cluster) == installed.credentials


def test_a_bad_value_is_refused_before_anything_changes(installed, cluster):
    revision = json.loads(helm(cluster, "status", "mlp", "-n", "mlp", "-o", "json"))["version"]
    result = make(cluster, "chart-platform", PROFILE=installed.profile, HELM_ARGS="--set mlflow.replicas=two")
    assert result.returncode != 0 and "/mlflow/replicas" in result.stderr
    assert json.loads(helm(cluster, "status", "mlp", "-n", "mlp", "-o", "json"))["version"] == revision


def test_an_upgrade_the_server_refuses_rolls_back_to_the_serving_revision(installed, cluster):
    serving = json.loads(helm(cluster, "status", "mlp", "-n", "mlp", "-o", "json"))
    bad = "--set mlflow.ingress.enabled=true --set mlflow.ingress.host=Not_A_Host"
    result = make(cluster, "chart-platform", PROFILE=installed.profile, HELM_ARGS=bad)
    assert result.returncode != 0
    assert "rolled back" in result.stderr and "spec.rules[0].host" in result.stderr
    history = json.loads(helm(cluster, "history", "mlp", "-n", "mlp", "-o", "json"))
    assert [h["status"] for h in history[-2:]] == ["failed", "deployed"]
    assert history[-1]["description"] == f"Rollback to {serving['version']}"
    rolled_back = helm(cluster, "get", "manifest", "mlp", "-n", "mlp")
    assert rolled_back == helm(cluster, "get", "manifest", "mlp", "-n", "mlp", "--revision", str(serving["version"]))
    assert not objects(cluster, "ingresses", "mlp")
    cluster.kubectl("-n", "mlp", "wait", "deployment", "--all", "--for=condition=Available", "--timeout=60s")
    assert generated_credentials(cluster) == installed.credentials


# -- uninstall -----------------------------------------------------------------------------------------

# What charts/README.md says `make uninstall` leaves, besides every CRD and the models namespace.
KEPT_SECRETS = {("mlp", "mlp-airflow-fernet-key"), ("mlp", "mlp-minio-root"), ("mlp-system", "mlp-grafana-admin")}
# What every namespace holds from its creation on.
NAMESPACE_DEFAULTS = {"ConfigMap/kube-root-ca.crt", "ServiceAccount/default"}


def test_uninstall_leaves_exactly_what_the_readme_says(installed, cluster):
    crds = {c["metadata"]["name"] for c in objects(cluster, "crd")}
    volumes = {v["metadata"]["name"] for v in objects(cluster, "pvc", "mlp")}
    assert volumes, "the platform has volumes to keep"
    succeeded(make(cluster, "uninstall"))
    for namespace in ("mlp", "mlp-system"):  # pods go after their controllers, by garbage collection
        cluster.kubectl("-n", namespace, "wait", "pod", "--all", "--for=delete", "--timeout=120s", check=False)
    left: set[str] = set()
    for namespace in ("mlp", "mlp-system"):
        kinds = "all,configmaps,secrets,serviceaccounts,roles,rolebindings,networkpolicies,ingresses,jobs"
        kinds += ",kafkas.kafka.strimzi.io,kafkatopics.kafka.strimzi.io,clusters.postgresql.cnpg.io"
        kinds += ",prometheusrules.monitoring.coreos.com,podmonitors.monitoring.coreos.com"
        for item in objects(cluster, kinds, namespace):
            name = f"{item['kind']}/{item['metadata']['name']}"
            if name not in NAMESPACE_DEFAULTS and item["kind"] != "PersistentVolumeClaim":
                left.add(f"{namespace}/{name}")
    assert left == {f"{ns}/Secret/{name}" for ns, name in KEPT_SECRETS}
    assert {v["metadata"]["name"] for v in objects(cluster, "pvc", "mlp")} == volumes
    assert {c["metadata"]["name"] for c in objects(cluster, "crd")} == crds
    assert cluster.kubectl("get", "namespace", "mlp-models", check=False).returncode == 0
    readme = (REPO / "charts" / "README.md").read_text()
    for _, name in KEPT_SECRETS:
        assert f"`{name}`" in readme, f"charts/README.md does not say that {name} stays"
