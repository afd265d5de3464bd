"""Where the local control plane keeps its files: all under `$MLP_HOME/cluster/`, nothing elsewhere."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from mlplatform.config import Settings

#: The kubeconfig context (and cluster entry) of the local control plane.
CONTEXT = "mlp-local"

#: Variables that must not reach the control plane: the API server would send its calls to admission
#: webhooks (`*.svc` names) through the machine's proxy.
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


@dataclass(frozen=True)
class ClusterLayout:
    settings: Settings

    @property
    def root(self) -> Path:
        return self.settings.home / "cluster"

    @property
    def pki(self) -> Path:
        """Certificates and keys: the CA, every component's, and the service-account signing key."""
        return self.root / "pki"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def kubeconfig(self) -> Path:
        """The administrator's kubeconfig (group system:masters), context `mlp-local`."""
        return self.root / "kubeconfig"

    def component_kubeconfig(self, name: str) -> Path:
        return self.root / "kubeconfigs" / f"{name}.kubeconfig"

    @property
    def kube_cache(self) -> Path:
        """kubectl's and Helm's discovery and HTTP cache (KUBECACHEDIR), instead of ~/.kube/cache."""
        return self.root / "kube-cache"

    @property
    def server(self) -> str:
        return f"https://{self.settings.host}:{self.settings.cluster.apiserver_port}"

    @property
    def service_ip(self) -> str:
        """The `kubernetes` Service's address: the first of the service range."""
        network = ipaddress.ip_network(self.settings.cluster.service_cidr, strict=False)
        return str(network.network_address + 1)

    def client_environment(self) -> dict[str, str]:
        """Variables that point kubectl and Helm at this control plane (and keep their cache here)."""
        return {"KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.kube_cache)}
