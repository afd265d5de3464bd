"""The local control plane as a whole: its own supervisord, its certificates, its start order and state.

It reuses the platform's runtime (`LocalPlatform`: port checks, start order, readiness waits, clean
stops, leftover hunting) with a supervisord of its own under `$MLP_HOME/cluster/run/`, so `mlp down`
and `mlp cluster down` each stop only their part of the instance. The control plane's processes
carry the instance marker (`MLP_INSTANCE`, with `MLP_INSTANCE_PART=cluster`) and none of the
machine's proxy variables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mlplatform.cluster import components
from mlplatform.cluster.api import ClusterApi
from mlplatform.cluster.layout import PROXY_VARIABLES, ClusterLayout
from mlplatform.cluster.pki import Pki
from mlplatform.config import Settings
from mlplatform.runtime.local import LocalPlatform, ServiceStatus
from mlplatform.runtime.service import Service
from mlplatform.runtime.supervisor import Supervisor
from mlplatform.tools import Toolchain

CLUSTER_PART = "cluster"


@dataclass(frozen=True)
class ClusterStatus:
    components: list[ServiceStatus]
    server_version: str | None
    #: Each simulated node and whether it is Ready.
    nodes: dict[str, bool]
    kubeconfig: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class ControlPlane(LocalPlatform):
    command = "mlp cluster"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = ClusterLayout(settings)
        self.services = components.build(settings)
        self.supervisor = Supervisor(
            settings,
            self.services,
            part=CLUSTER_PART,
            run_dir=self.layout.run,
            logs_dir=self.layout.logs,
            launcher=None,  # no secret on any command line: supervisord runs the binaries themselves
            excluded_environment=PROXY_VARIABLES,
        )
        self.api = ClusterApi(self.layout)

    def start_groups(self, chosen: list[Service]) -> list[list[Service]]:
        # etcd, then the API server; the rest need only the API server, so they start together.
        first = [service for service in chosen if service.name in (components.Etcd.name, components.ApiServer.name)]
        rest = [service for service in chosen if service not in first]
        return [[service] for service in first] + ([rest] if rest else [])

    def check_tools(self) -> None:
        Toolchain(self.settings).check_cluster()

    def prepare_instance(self) -> None:
        pki = Pki(self.layout)
        pki.ensure()
        pki.write_kubeconfigs()
        self.layout.kube_cache.mkdir(parents=True, exist_ok=True)

    def cluster_status(self) -> ClusterStatus:
        rows = self.status()
        api_up = any(row.name == components.ApiServer.name and row.ready for row in rows)
        return ClusterStatus(
            components=rows,
            server_version=self.api.version() if api_up else None,
            nodes=self.api.ready_nodes() if api_up else {},
            kubeconfig=str(self.layout.kubeconfig),
        )
