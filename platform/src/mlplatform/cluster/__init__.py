"""A Kubernetes control plane on this machine, for installing and testing the charts without a cluster.

`mlp cluster up` runs, on loopback and under `$MLP_HOME/cluster/`, the real programs of a control
plane built from source at the pinned version: etcd, kube-apiserver (authentication by client
certificates and service-account tokens, admission, RBAC), kube-controller-manager (Deployments,
ReplicaSets, Jobs, StatefulSets, service accounts, garbage collection…) and kube-scheduler.

No kubelet and no container runtime can run here, so the nodes are simulated by kwok: it keeps fake
Nodes Ready (with leases), marks the pods bound to them Running and Ready, completes the pods of Jobs,
and provisions and binds PersistentVolumes of its `kwok-volume` StorageClass. No container is ever
started, no image pulled, no volume holds data, and Services route nowhere: what is exercised is
everything the API server and the controllers do, not the workloads themselves.

No operator can run either, so kwok also plays what the platform's operators would report
(operator-stages.yaml): their custom resources' Ready conditions (Kafka, Connect, topics, users,
PostgreSQL clusters and databases, Prometheus), and, as their admission webhooks have no server to
answer, their webhook configurations are removed. Nothing is reconciled.

Service and pod addresses are taken from loopback ranges, so whatever the API server dials stays on
this machine.
"""

SIMULATED = (
    "Simulated by kwok: nodes and their kubelets (no container runs), pod readiness, Job completion, "
    "volumes (PersistentVolumes are API objects only), and what operators report (custom resources marked "
    "Ready; their admission webhooks removed, as none can answer)."
)
REAL = "Real: etcd, the API server (authentication, admission, RBAC), the controllers and the scheduler."
