"""Pinned versions of the tools built from source. Java artifacts are pinned in their poms."""

# The MinIO repository is archived; the Go module proxy serves its final commit (which follows
# RELEASE.2025-10-15T17-29-55Z) and no RELEASE tag, so the pin is that commit's pseudo-version.
MINIO_PACKAGE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"

# Turns the local Airflow's StatsD metrics into Prometheus series, as the Airflow chart's exporter does.
STATSD_EXPORTER_PACKAGE = "github.com/prometheus/statsd_exporter"
STATSD_EXPORTER_VERSION = "v0.31.0"

HELM_PACKAGE = "helm.sh/helm/v3/cmd/helm"
HELM_VERSION = "v3.22.0"

# The local Kubernetes control plane (`mlp cluster up`): kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl and etcd are built from platform/runtimes/kubernetes (its go.mod pins
# k8s.io/kubernetes and etcd); this is the version the build stamps into the binaries.
KUBERNETES_VERSION = "v1.37.2"
# kwok simulates the nodes (and so the kubelets) of that control plane.
KWOK_PACKAGE = "sigs.k8s.io/kwok/cmd/kwok"
KWOK_MODULE = "sigs.k8s.io/kwok"
KWOK_VERSION = "v0.8.0"

# The Kubernetes version charts are rendered and validated for.
KUBE_VERSION = "1.33.0"

# Debian packages of the services that come from the distribution.
APT_PACKAGES = {"postgres": "postgresql", "prometheus": "prometheus"}
