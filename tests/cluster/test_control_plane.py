"""The local control plane: a real API server of the pinned version, with workloads driven through kwok.

Everything here talks to the running kube-apiserver through the real kubectl and Helm; what kwok
simulates (nodes, pod readiness, Job completion, volumes) is what lets the controllers' results show.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml
from mlplatform import versions
from mlplatform.cluster.components import node_names
from mlplatform.cluster.layout import PROXY_VARIABLES, ClusterLayout
from mlplatform.cluster.pki import Pki
from mlplatform.config import Settings
from mlplatform.runtime.supervisor import INSTANCE_VARIABLE, PART_VARIABLE
from mlplatform.tools import Toolchain

from tests.cluster.conftest import LocalCluster, require_cluster_tools, required_tool
from tests.conftest import isolated_environment, run_mlp
from tests.runtime.helpers import instance_processes, port_free, wait_for

IMAGE = "registry.invalid/mlp/never-pulled:1"  # kwok runs no container, so no image is ever pulled
WAIT = "--timeout=180s"


def apply(cluster: LocalCluster, namespace: str, *objects: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all(objects))


def get(cluster: LocalCluster, namespace: str, *what: str) -> Any:
    return json.loads(cluster.kubectl("get", "-n", namespace, *what, "-o", "json").stdout)


def pod_template(name: str, restart: str = "Always") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": name}},
        "spec": {"restartPolicy": restart, "containers": [{"name": "main", "image": IMAGE}]},
    }


def cluster_status(env: dict[str, str] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(run_mlp("cluster", "status", "--json", env=env).stdout)
    return result


def test_server_reports_the_pinned_version_and_every_component_is_ready(cluster: LocalCluster) -> None:
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == versions.KUBERNETES_VERSION == "v1.37.2"

    status = cluster_status()
    assert status["server_version"] == versions.KUBERNETES_VERSION
    assert [row["name"] for row in status["components"]] == [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
        "operators",
    ]
    assert all(row["state"] == "RUNNING" and row["ready"] and row["pid"] > 0 for row in status["components"])
    assert status["nodes"] == dict.fromkeys(node_names(cluster.settings), True)
    assert status["kubeconfig"] == str(cluster.kubeconfig)


def test_nodes_are_kwok_nodes_with_generous_capacity(cluster: LocalCluster) -> None:
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert [node["metadata"]["name"] for node in nodes] == node_names(cluster.settings)
    for node in nodes:
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        assert node["metadata"]["labels"]["kubernetes.io/os"] == "linux"
        assert node["metadata"]["labels"]["kubernetes.io/arch"] == "amd64"
        assert node["status"]["allocatable"]["cpu"] == "32"
        assert node["status"]["allocatable"]["pods"] == "250"
        assert not node["spec"].get("taints"), "a Ready node carries no not-ready/unreachable taint"


def test_deployment_becomes_available_and_job_completes(cluster: LocalCluster, namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": pod_template("web")},
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {"backoffLimit": 0, "template": pod_template("once", restart="Never")},
    }
    apply(cluster, namespace, deployment, job)

    cluster.kubectl("wait", "-n", namespace, "deployment/web", "--for=condition=Available", WAIT)
    cluster.kubectl("wait", "-n", namespace, "job/once", "--for=condition=Complete", WAIT)

    assert get(cluster, namespace, "deployment/web")["status"]["availableReplicas"] == 2
    assert get(cluster, namespace, "job/once")["status"]["succeeded"] == 1
    pods = get(cluster, namespace, "pods")["items"]
    # The scheduler bound every pod to a simulated node.
    assert {pod["spec"]["nodeName"] for pod in pods} <= set(node_names(cluster.settings))


def test_statefulset_volume_claim_binds_through_the_default_storage_class(
    cluster: LocalCluster, namespace: str
) -> None:
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                **pod_template("db"),
                "spec": {
                    "containers": [
                        {"name": "main", "image": IMAGE, "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }
    apply(cluster, namespace, statefulset)

    cluster.kubectl("wait", "-n", namespace, "pvc/data-db-0", "--for=jsonpath={.status.phase}=Bound", WAIT)
    cluster.kubectl("wait", "-n", namespace, "statefulset/db", "--for=jsonpath={.status.readyReplicas}=1", WAIT)

    claim = get(cluster, namespace, "pvc/data-db-0")
    assert claim["spec"]["storageClassName"] == "kwok-volume"  # set by the DefaultStorageClass admission plugin
    volume = json.loads(cluster.kubectl("get", "pv", claim["spec"]["volumeName"], "-o", "json").stdout)
    assert volume["status"]["phase"] == "Bound"
    assert volume["spec"]["claimRef"]["name"] == "data-db-0"


def test_rbac_denies_a_service_account_until_a_binding_allows_it(cluster: LocalCluster, namespace: str) -> None:
    cluster.kubectl("create", "serviceaccount", "reader", "-n", namespace)
    who = f"system:serviceaccount:{namespace}:reader"

    def can_list_pods() -> subprocess.CompletedProcess[str]:
        return cluster.kubectl("auth", "can-i", "list", "pods", "-n", namespace, "--as", who, check=False)

    denied = can_list_pods()
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    # The same question with the service account's own token, issued by the API server.
    token = cluster.kubectl("create", "token", "reader", "-n", namespace).stdout.strip()
    assert list_pods_with_token(cluster, namespace, token) == 403

    cluster.kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", namespace)
    cluster.kubectl(
        "create",
        "rolebinding",
        "reader-reads",
        "--role=pod-reader",
        f"--serviceaccount={namespace}:reader",
        "-n",
        namespace,
    )

    allowed = wait_for(lambda: (r := can_list_pods()).returncode == 0 and r, 30, "RBAC to allow the bound account")
    assert allowed.stdout.strip() == "yes"
    assert list_pods_with_token(cluster, namespace, token) == 200
    other = cluster.kubectl("auth", "can-i", "list", "secrets", "-n", namespace, "--as", who, check=False)
    assert other.stdout.strip() == "no"


def list_pods_with_token(cluster: LocalCluster, namespace: str, token: str) -> int:
    layout = ClusterLayout(cluster.settings)
    context = ssl.create_default_context(cafile=str(Pki(layout).ca_cert))
    with httpx.Client(verify=context, trust_env=False, timeout=10) as client:
        response = client.get(
            f"{layout.server}/api/v1/namespaces/{namespace}/pods", headers={"Authorization": f"Bearer {token}"}
        )
    return response.status_code


def test_helm_install_waits_for_hooks_and_workloads(cluster: LocalCluster, namespace: str, tmp_path: Path) -> None:
    helm = required_tool(Toolchain(cluster.settings).helm, "Helm")
    chart = tmp_path / "hooks"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hooks\nversion: 0.1.0\n")
    jobs = []
    for hook in ("pre-install", "post-install"):
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": f"{hook}-job", "annotations": {"helm.sh/hook": hook}},
            "spec": {"backoffLimit": 0, "template": pod_template(hook, restart="Never")},
        }
        jobs.append(job)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "app"}}, "template": pod_template("app")},
    }
    (chart / "templates" / "all.yaml").write_text(yaml.safe_dump_all([*jobs, deployment]))
    helm_home = {name: str(tmp_path / name) for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")}

    result = subprocess.run(
        [
            str(helm),
            "install",
            "hooks",
            str(chart),
            "-n",
            namespace,
            "--kube-context",
            cluster.context,
            "--wait",
            "--timeout=3m",
        ],
        env={**cluster.env, **helm_home},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    for job in jobs:
        assert get(cluster, namespace, f"job/{job['metadata']['name']}")["status"]["succeeded"] == 1
    assert get(cluster, namespace, "deployment/app")["status"]["availableReplicas"] == 1


def test_up_twice_is_idempotent(cluster: LocalCluster) -> None:
    before = cluster_status()

    again = run_mlp("cluster", "up")

    after = cluster_status()
    assert again.stdout.count("already running") == len(before["components"])
    assert [row["pid"] for row in after["components"]] == [row["pid"] for row in before["components"]]
    assert all(row["ready"] for row in after["components"])
    assert after["nodes"] == before["nodes"]


def test_down_leaves_no_process_and_no_file_outside_the_home(settings: Settings) -> None:
    """A second instance, whose processes get their own HOME and TMPDIR: both must stay empty."""
    require_cluster_tools(settings)
    outside = Path(tempfile.mkdtemp(prefix="mlp-outside-", dir="/var/tmp"))
    fake_home, fake_tmp = outside / "home", outside / "tmp"
    fake_home.mkdir()
    fake_tmp.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLP_", "XDG_", "KUBE"))}
    env.update(isolated_environment(), MLP_CACHE_DIR=str(settings.cache_dir), HOME=str(fake_home), TMPDIR=str(fake_tmp))
    # A proxy that answers nothing: the control plane must neither inherit nor need it.
    env.update(dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), "http://127.0.0.1:9"))
    home = Path(env["MLP_HOME"])
    ports = [int(value) for key, value in env.items() if key.startswith("MLP_CLUSTER__") and key.endswith("PORT")]
    try:
        run_mlp("cluster", "up", env=env)
        exported = dict(
            shlex.split(line.removeprefix("export "))[0].split("=", 1)
            for line in run_mlp("cluster", "env", env=env).stdout.splitlines()
        )
        assert set(exported) == {"KUBECONFIG", "KUBECACHEDIR"}
        kubectl = [str(Toolchain(settings).kubectl)]
        # kubectl as a user runs it after `eval "$(mlp cluster env)"`: its cache must land in $MLP_HOME.
        subprocess.run([*kubectl, "get", "nodes"], env={**env, **exported}, check=True, capture_output=True)
        subprocess.run([*kubectl, "api-resources"], env={**env, **exported}, check=True, capture_output=True)
        pids = [row["pid"] for row in cluster_status(env)["components"]]
        assert all(pids)
        for pid in pids:
            environ = psutil.Process(pid).environ()
            assert environ[INSTANCE_VARIABLE] == str(home) and environ[PART_VARIABLE] == "cluster"
            assert not set(environ) & set(PROXY_VARIABLES), f"process {pid} inherited a proxy variable"

        # The platform's `mlp down` of the same instance leaves its control plane alone.
        assert "killed leftover" not in run_mlp("down", env=env).stderr
        assert all(psutil.pid_exists(pid) for pid in pids)

        run_mlp("cluster", "down", env=env)

        assert [pid for pid in pids if psutil.pid_exists(pid)] == []
        assert instance_processes(home) == []
        assert [port for port in ports if not port_free(port)] == []
        assert list(fake_home.iterdir()) == [], "something wrote into HOME"
        assert list(fake_tmp.iterdir()) == [], "something wrote into TMPDIR"
        assert any(Path(exported["KUBECACHEDIR"]).iterdir()), "kubectl's cache is not under $MLP_HOME"
        assert Path(exported["KUBECONFIG"]).is_relative_to(home)
    finally:
        run_mlp("cluster", "down", env=env, check=False)
        shutil.rmtree(outside, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def test_taken_port_names_the_port_the_component_and_the_setting(settings: Settings) -> None:
    require_cluster_tools(settings)
    env = {**os.environ, **isolated_environment()}
    port = int(env["MLP_CLUSTER__APISERVER_PORT"])
    try:
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            result = run_mlp("cluster", "up", env=env, check=False)

        assert result.returncode == 1
        message = " ".join(result.stderr.split())
        assert f"Port {port}" in message
        assert "kube-apiserver cannot listen on it (setting cluster.apiserver_port)" in message
        assert "export MLP_CLUSTER__APISERVER_PORT=" in message
        assert not (Path(env["MLP_HOME"]) / "cluster" / "run" / "supervisord.pid").exists(), "up started something"
    finally:
        shutil.rmtree(env["MLP_HOME"], ignore_errors=True)
