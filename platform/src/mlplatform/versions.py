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

# The Kubernetes version charts are rendered and validated for.
KUBE_VERSION = "1.33.0"

# Debian packages of the services that come from the distribution.
APT_PACKAGES = {"postgres": "postgresql", "prometheus": "prometheus"}
