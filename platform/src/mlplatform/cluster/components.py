"""The control plane's processes, described as the platform's services are (see `runtime.service`).

Each listens on loopback only, on a port from `Settings.cluster`, and keeps its files under
`$MLP_HOME/cluster/`. etcd starts first, then kube-apiserver (which then gets kwok's roles, the
default StorageClass and the simulated Nodes), then together kube-controller-manager (ready once it has
created the `default` service account, so pods can be created), kube-scheduler and kwok (ready once
every simulated Node is Ready).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from mlplatform.cluster import operators
from mlplatform.cluster.api import ClusterApi, kubectl, tls_get
from mlplatform.cluster.layout import ClusterLayout
from mlplatform.cluster.pki import FRONT_PROXY_CA, FRONT_PROXY_USER, KWOK_USER, Pki
from mlplatform.config import Settings
from mlplatform.runtime.service import Endpoint, Port, Service

#: Nodes kwok manages carry this annotation (as in kwok's own node template).
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
NODE_PREFIX = "mlp-node-"
#: How long a simulated node's lease lasts; kwok renews it, so the node stays Ready.
NODE_LEASE_SECONDS = 40
#: The label and field manager of what `mlp cluster up` applies.
FIELD_MANAGER = "mlp-cluster"
# The operators' side of the simulation (see the package's docstring), and the rights kwok needs for it.
OPERATOR_WEBHOOKS = Path(__file__).with_name("operator-webhooks.yaml")
OPERATOR_RBAC = Path(__file__).with_name("operator-rbac.yaml")


class ClusterComponent(Service):
    """A control-plane process; its data, run files and log live under `$MLP_HOME/cluster/`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.layout = ClusterLayout(settings)
        self.pki = Pki(self.layout)
        self.api = ClusterApi(self.layout)

    @property
    def data_dir(self) -> Path:
        return self.layout.data / self.name

    @property
    def run_dir(self) -> Path:
        return self.layout.run / self.name

    @property
    def log_file(self) -> Path:
        return self.layout.logs / f"{self.name}.log"

    def binary(self) -> str:
        return str(self.tools.kubernetes_binary(self.name))

    def health_url(self, port: int) -> str:
        return f"https://{self.settings.host}:{port}/healthz"

    def healthz(self, port: int) -> bool:
        response = tls_get(self.health_url(port), self.pki.ca_cert)
        return response is not None and response.status_code == 200

    def serving_flags(self, port: int) -> list[str]:
        """Health and metrics port on loopback, served with a certificate of the cluster's CA."""
        return [
            f"--bind-address={self.settings.host}",
            f"--secure-port={port}",
            f"--tls-cert-file={self.pki.cert(self.name + '-serving')}",
            f"--tls-private-key-file={self.pki.key(self.name + '-serving')}",
        ]

    def kubeconfig_flags(self) -> list[str]:
        kubeconfig = self.layout.component_kubeconfig(self.name)
        return [f"--{kind}kubeconfig={kubeconfig}" for kind in ("", "authentication-", "authorization-")]


class Etcd(ClusterComponent):
    name = "etcd"

    def ports(self) -> list[Port]:
        c = self.settings.cluster
        return [Port("cluster.etcd_port", c.etcd_port), Port("cluster.etcd_peer_port", c.etcd_peer_port)]

    @property
    def client_url(self) -> str:
        return f"https://{self.settings.host}:{self.settings.cluster.etcd_port}"

    def prepare(self) -> None:
        super().prepare()
        self.data_dir.chmod(0o700)  # etcd insists

    def argv(self) -> list[str]:
        peer = f"https://{self.settings.host}:{self.settings.cluster.etcd_peer_port}"
        cert, key, ca = self.pki.cert("etcd"), self.pki.key("etcd"), self.pki.ca_cert
        return [
            str(self.tools.kubernetes_binary("etcd")),
            "--name=mlp-local",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.client_url}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=mlp-local={peer}",
            # Only clients with a certificate of the cluster's CA (the API server) may connect.
            f"--cert-file={cert}",
            f"--key-file={key}",
            f"--trusted-ca-file={ca}",
            "--client-cert-auth",
            f"--peer-cert-file={cert}",
            f"--peer-key-file={key}",
            f"--peer-trusted-ca-file={ca}",
            "--peer-client-cert-auth",
        ]

    def is_ready(self) -> bool:
        client = (self.pki.cert("kube-apiserver-etcd-client"), self.pki.key("kube-apiserver-etcd-client"))
        response = tls_get(f"{self.client_url}/health", self.pki.ca_cert, client)
        return response is not None and response.status_code == 200 and response.json().get("health") == "true"

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("etcd (mutual TLS)", self.client_url)]


class ApiServer(ClusterComponent):
    name = "kube-apiserver"
    # It keeps no state, and with clients still watching it can wait a minute for them on SIGTERM.
    stop_timeout = 10

    def ports(self) -> list[Port]:
        return [Port("cluster.apiserver_port", self.settings.cluster.apiserver_port)]

    def argv(self) -> list[str]:
        c, pki = self.settings.cluster, self.pki
        etcd = Etcd(self.settings)
        return [
            self.binary(),
            f"--bind-address={self.settings.host}",
            f"--secure-port={c.apiserver_port}",
            f"--advertise-address={self.settings.host}",
            # 1.37 refuses a loopback advertise address unless nothing maintains the `kubernetes`
            # Service's endpoints (they could only point at this machine anyway).
            "--endpoint-reconciler-type=none",
            f"--etcd-servers={etcd.client_url}",
            f"--etcd-cafile={pki.ca_cert}",
            f"--etcd-certfile={pki.cert('kube-apiserver-etcd-client')}",
            f"--etcd-keyfile={pki.key('kube-apiserver-etcd-client')}",
            f"--tls-cert-file={pki.cert('kube-apiserver')}",
            f"--tls-private-key-file={pki.key('kube-apiserver')}",
            f"--cert-dir={self.run_dir}",
            f"--client-ca-file={pki.ca_cert}",
            # Aggregated API servers (APIService objects) trust callers the front proxy CA vouches for.
            f"--requestheader-client-ca-file={pki.cert(FRONT_PROXY_CA)}",
            f"--requestheader-allowed-names={FRONT_PROXY_USER}",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki.cert('front-proxy-client')}",
            f"--proxy-client-key-file={pki.key('front-proxy-client')}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            f"--service-cluster-ip-range={c.service_cidr}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_public_key}",
            f"--service-account-signing-key-file={pki.service_account_key}",
        ]

    def is_ready(self) -> bool:
        response = tls_get(
            f"{self.layout.server}/readyz", self.pki.ca_cert, (self.pki.cert("admin"), self.pki.key("admin"))
        )
        return response is not None and response.status_code == 200

    def initialize(self) -> None:
        """kwok's ClusterRoles bound to its user, its default StorageClass, and the simulated Nodes."""
        manifests = self.tools.kwok_manifests
        bindings = [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"mlp:{role}", "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER}},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": KWOK_USER}],
            }
            for role in _names_of_kind(manifests, "ClusterRole")
        ]
        args = ["apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}"]
        args += [f"--filename={path}" for path in (*manifests, OPERATOR_RBAC)]
        kubectl(self.layout, [*args, "--filename=-"], stdin=yaml.safe_dump_all(bindings))
        # Created once, with their capacity in their status (an update could not set it); kwok keeps them Ready.
        existing = set(self.api.ready_nodes())
        missing = [node for node in self.nodes() if node["metadata"]["name"] not in existing]
        if missing:
            kubectl(self.layout, ["create", "--filename=-"], stdin=yaml.safe_dump_all(missing))

    def nodes(self) -> list[dict[str, Any]]:
        c = self.settings.cluster
        resources = {"cpu": c.node_cpu, "memory": c.node_memory, "pods": str(c.node_pods), "ephemeral-storage": "1Ti"}
        result = []
        for name in node_names(self.settings):
            labels = {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "type": "kwok",
                "app.kubernetes.io/managed-by": FIELD_MANAGER,
            }
            annotations = {KWOK_NODE_ANNOTATION[0]: KWOK_NODE_ANNOTATION[1], "node.alpha.kubernetes.io/ttl": "0"}
            result.append(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": name, "labels": labels, "annotations": annotations},
                    "status": {
                        "capacity": resources,
                        "allocatable": resources,
                        "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"},
                    },
                }
            )
        return result

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("Kubernetes API server", self.layout.server)]


class ControllerManager(ClusterComponent):
    name = "kube-controller-manager"

    def ports(self) -> list[Port]:
        return [Port("cluster.controller_manager_port", self.settings.cluster.controller_manager_port)]

    def argv(self) -> list[str]:
        c, pki = self.settings.cluster, self.pki
        return [
            self.binary(),
            *self.kubeconfig_flags(),
            *self.serving_flags(c.controller_manager_port),
            "--leader-elect=false",
            # Each controller acts as its own service account, as in a kubeadm cluster.
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            f"--service-cluster-ip-range={c.service_cidr}",
            # Otherwise it creates /usr/libexec/kubernetes/kubelet-plugins/volume/exec.
            f"--flex-volume-plugin-dir={self.run_dir / 'volume-plugins'}",
        ]

    def is_ready(self) -> bool:
        # Pods can be created once the service-account controller has made `default` in `default`.
        return self.healthz(self.settings.cluster.controller_manager_port) and (
            self.api.get("/api/v1/namespaces/default/serviceaccounts/default") is not None
        )

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("kube-controller-manager health", self.health_url(self.settings.cluster.controller_manager_port))
        ]


class Scheduler(ClusterComponent):
    name = "kube-scheduler"

    def ports(self) -> list[Port]:
        return [Port("cluster.scheduler_port", self.settings.cluster.scheduler_port)]

    def argv(self) -> list[str]:
        return [
            self.binary(),
            *self.kubeconfig_flags(),
            *self.serving_flags(self.settings.cluster.scheduler_port),
            "--leader-elect=false",
        ]

    def is_ready(self) -> bool:
        return self.healthz(self.settings.cluster.scheduler_port)

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("kube-scheduler health", self.health_url(self.settings.cluster.scheduler_port))]


class Kwok(ClusterComponent):
    """The simulated nodes: kwok plays its own stages (node, pod and volume lifecycles) against the API."""

    name = "kwok"

    def ports(self) -> list[Port]:
        return [Port("cluster.kwok_port", self.settings.cluster.kwok_port)]

    def argv(self) -> list[str]:
        c, host = self.settings.cluster, self.settings.host
        key, value = KWOK_NODE_ANNOTATION
        return [
            str(self.tools.kwok),
            f"--kubeconfig={self.layout.component_kubeconfig(self.name)}",
            f"--manage-nodes-with-annotation-selector={key}={value}",
            f"--server-address={host}:{c.kwok_port}",
            f"--node-ip={host}",
            f"--cidr={c.pod_cidr}",
            # Above 0 kwok renews each node's lease; otherwise the node lifecycle controller marks
            # the nodes NotReady after its grace period.
            f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
            *(f"--config={stage}" for stage in (*self.tools.kwok_stages, OPERATOR_WEBHOOKS)),
        ]

    def environment(self) -> dict[str, str]:
        # kwok's work folder (default ~/.kwok, where it would also read a kwok.yaml).
        return {"KWOK_WORKDIR": str(self.run_dir)}

    def is_ready(self) -> bool:
        if not self.http_ok(self.settings.cluster.kwok_port, "/healthz"):
            return False
        ready = self.api.ready_nodes()
        return all(ready.get(name, False) for name in node_names(self.settings))

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("kwok health", self.url(self.settings.cluster.kwok_port, "/healthz"))]


class Operators(ClusterComponent):
    """What the platform's operators would report (operator-status.yaml), played by a second kwok that
    manages no node. It starts playing once the operators' CRDs are served (see `operators.py`)."""

    name = "operators"

    def ports(self) -> list[Port]:
        return [Port("cluster.operators_port", self.settings.cluster.operators_port)]

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "mlplatform.cluster.operators",
            str(self.tools.kwok),
            f"--kubeconfig={self.layout.component_kubeconfig(Kwok.name)}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=mlplatform.io/no-node=none",
            f"--server-address={self.settings.host}:{self.settings.cluster.operators_port}",
            f"--config={operators.STAGES}",
        ]

    def environment(self) -> dict[str, str]:
        # What the launcher's ClusterLayout needs: where the certificates are and where the API server listens.
        return {
            "KWOK_WORKDIR": str(self.run_dir),
            "MLP_HOME": str(self.settings.home),
            "MLP_HOST": self.settings.host,
            "MLP_CLUSTER__APISERVER_PORT": str(self.settings.cluster.apiserver_port),
        }

    def is_ready(self) -> bool:
        # Nothing to play before `make install` brings the CRDs: ready once started.
        return True

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("operators' status (kwok) health", self.url(self.settings.cluster.operators_port, "/healthz"))]


def node_names(settings: Settings) -> list[str]:
    return [f"{NODE_PREFIX}{index}" for index in range(1, settings.cluster.nodes + 1)]


def _names_of_kind(paths: list[Path], kind: str) -> list[str]:
    names = []
    for path in paths:
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == kind:
                names.append(document["metadata"]["name"])
    return names


ALL: tuple[type[ClusterComponent], ...] = (Etcd, ApiServer, ControllerManager, Scheduler, Kwok, Operators)
NAMES = tuple(component.name for component in ALL)


def build(settings: Settings) -> list[Service]:
    return [component(settings) for component in ALL]


def get(settings: Settings, name: str) -> ClusterComponent:
    for component in ALL:
        if component.name == name:
            return component(settings)
    raise KeyError(name)
