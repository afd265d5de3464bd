"""Kubernetes pieces of cluster mode: the pods' environment, Secrets and resources, built from a recipe."""

from __future__ import annotations

from kubernetes.client import models as k8s

from mlpipelines.recipe import Batch, Recipe
from mlpipelines.settings import PipelineSettings


def env_vars(plain: dict[str, str], settings: PipelineSettings) -> list[k8s.V1EnvVar]:
    """Plain variables, plus the warehouse password as a reference to its Secret (never its value)."""
    variables = [k8s.V1EnvVar(name=name, value=value) for name, value in sorted(plain.items())]
    password = k8s.V1EnvVarSource(
        secret_key_ref=k8s.V1SecretKeySelector(name=settings.warehouse_secret, key=settings.warehouse_secret_key)
    )
    return [*variables, k8s.V1EnvVar(name="WAREHOUSE_PASSWORD", value_from=password)]


def env_from(settings: PipelineSettings) -> list[k8s.V1EnvFromSource]:
    """MLFLOW_TRACKING_URI, MLFLOW_S3_ENDPOINT_URL and the S3 credentials, from the task Secret."""
    return [k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=settings.task_env_secret))]


def resources(owner: Recipe | Batch) -> k8s.V1ResourceRequirements:
    """A training pod's (the recipe's `resources`) or a batch pod's (its `batch.resources`)."""
    return k8s.V1ResourceRequirements(requests=dict(owner.resources.requests), limits=dict(owner.resources.limits))


PROMOTER_RESOURCES = k8s.V1ResourceRequirements(
    requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "500m", "memory": "512Mi"}
)


def labels(recipe: Recipe, step: str) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": "mlplatform", "mlplatform/recipe": recipe.name, "mlplatform/step": step}


# The pods run as their image's non-root user, under the `restricted` Pod Security Standard: no privilege
# escalation, no capabilities, the runtime's default seccomp profile. Our images set a numeric USER.
POD_SECURITY = k8s.V1PodSecurityContext(
    run_as_non_root=True, seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault")
)
CONTAINER_SECURITY = k8s.V1SecurityContext(
    allow_privilege_escalation=False, capabilities=k8s.V1Capabilities(drop=["ALL"])
)
