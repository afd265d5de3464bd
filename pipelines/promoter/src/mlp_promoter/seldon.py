"""The `seldon` target: SeldonDeployments for the champion, and for a canary beside it, rendered through Tempo.

Tempo 0.5.2 renders one predictor per SeldonDeployment (named `default`, no traffic field, protocol
`kfserving`). A canary needs two predictors with a traffic split, so each predictor is rendered by
Tempo on its own and the promoter assembles them, renaming predictors after their model versions
and setting `protocol: v2` (the name Seldon Core 1.17 uses for the V2 protocol). When the policy autoscales,
each predictor's model gets a CPU request and Seldon's `hpaSpec` (an autoscaling/v2 HorizontalPodAutoscaler on
CPU utilization) and no `replicas`: Seldon leaves the Deployment's replicas to the autoscaler then.
"""

from __future__ import annotations

import argparse
import logging
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from mlp_policy import Autoscaling, Policy

from mlp_promoter.errors import RolloutError
from mlp_promoter.targets import Rollout, Target

API_VERSION = "machinelearning.seldon.io/v1"
MANAGED_BY = "mlp-promoter"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeldonOptions:
    namespace: str = "mlp-models"
    secret_name: str = "mlp-seldon-rclone"
    artifact_root: str = "s3://mlflow"
    # Replicas of each predictor without an autoscaler; None: the policy's autoscaling.min_replicas.
    replicas: int | None = None
    # The model container's CPU request when autoscaling: the HorizontalPodAutoscaler's target is a share of it.
    cpu_request: str = "100m"


#: Port of the Seldon executor in front of each predictor's model (Seldon Core 1.17's default).
EXECUTOR_PORT = 8000
# Pod label telling the stable predictor from the canary (the chart's `monitoring.serving.predictorLabel`).
PREDICTOR_LABEL = "mlplatform.io/predictor"
CHAMPION_ROLE, CANARY_ROLE = "champion", "canary"


def deployment_name(model_name: str) -> str:
    """A DNS-1123 name for the SeldonDeployment of a registered model."""
    name = re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")[:63].rstrip("-")
    return name or "model"


def s3_uri(artifact_location: str, artifact_root: str) -> str:
    """`mlflow-artifacts:/1/models/m-x/artifacts` -> `s3://mlflow/1/models/m-x/artifacts` (the server's store)."""
    parsed = urllib.parse.urlparse(artifact_location)
    if parsed.scheme == "s3":
        return artifact_location
    if parsed.scheme == "mlflow-artifacts":
        return f"{artifact_root.rstrip('/')}/{parsed.path.lstrip('/')}"
    raise ValueError(f"cannot map {artifact_location!r} to an S3 URI (expected mlflow-artifacts: or s3:)")


def render(
    model_name: str, predictors: list[Rollout], target: SeldonOptions, autoscaling: Autoscaling | None = None
) -> dict[str, Any]:
    """One SeldonDeployment serving `predictors` (one: all traffic; two: champion and canary), each scaled as
    `autoscaling` says (by default: the policy's default, one replica)."""
    autoscaling = autoscaling or Autoscaling()
    name = deployment_name(model_name)
    replicas = target.replicas if target.replicas is not None else autoscaling.min_replicas
    rendered = [
        _tempo_predictor(name, p, target, replicas, CHAMPION_ROLE if i == 0 else CANARY_ROLE)
        for i, p in enumerate(predictors)
    ]
    if autoscaling.enabled:
        for predictor in rendered:
            _autoscale(predictor, autoscaling, target.cpu_request)
    base = _tempo_manifest(name, predictors[0], target, replicas)
    base["spec"]["protocol"] = "v2"
    base["spec"]["predictors"] = rendered
    metadata = base["metadata"]
    metadata.setdefault("labels", {}).update(
        {"app.kubernetes.io/managed-by": MANAGED_BY, "mlplatform.io/registered-model": name}
    )
    metadata.setdefault("annotations", {}).update(
        {
            "mlplatform.io/registered-model": model_name,
            "mlplatform.io/versions": ",".join(f"{p.version}={p.traffic}%" for p in predictors),
        }
    )
    return base


def _autoscale(predictor: dict[str, Any], autoscaling: Autoscaling, cpu_request: str) -> None:
    """Seldon 1.17's hpaSpec on the predictor's model component, in autoscaling/v2 form (`metricsv2`).

    The model container (named as its graph node, which is how Seldon merges it into the prepackaged server's)
    requests CPU, since a Utilization target is a share of the request. The predictor's `replicas` goes: for a
    component with an hpaSpec Seldon sets no replicas on the Deployment, so a count there would say what nothing
    honours.
    """
    predictor.pop("replicas", None)
    container = {"name": predictor["graph"]["name"], "resources": {"requests": {"cpu": cpu_request}}}
    metric = {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": autoscaling.target_cpu_utilization},
        },
    }
    predictor["componentSpecs"] = [
        {
            "spec": {"containers": [container]},
            "hpaSpec": {
                "minReplicas": autoscaling.min_replicas,
                "maxReplicas": autoscaling.max_replicas,
                "metricsv2": [metric],
            },
        }
    ]


def _tempo_manifest(name: str, predictor: Rollout, target: SeldonOptions, replicas: int) -> dict[str, Any]:
    from tempo import Model, ModelFramework
    from tempo.seldon.k8s import SeldonKubernetesRuntime
    from tempo.serve.metadata import KubernetesRuntimeOptions

    options = KubernetesRuntimeOptions(namespace=target.namespace, authSecretName=target.secret_name, replicas=replicas)
    model = Model(
        name=name,
        platform=ModelFramework.MLFlow,
        uri=s3_uri(predictor.artifact_location, target.artifact_root),
        # Tempo wants a local folder; it is only recorded in its annotation, so name a neutral one.
        local_folder=f"/mnt/models/{name}",
        runtime_options=options,
        description=f"registered model version {predictor.version}",
    )
    manifest: dict[str, Any] = yaml.safe_load(SeldonKubernetesRuntime(options).manifest(model))
    return manifest


def predictor_service(name: str, version: str) -> str:
    """The Service Seldon creates for one version's predictor (`seldon.io/svc-name`): where the scoring processor's
    sticky split sends that version's accounts (the chart's `model_version_url`)."""
    return f"{name}-v{version}"[:63]


def _tempo_predictor(name: str, predictor: Rollout, target: SeldonOptions, replicas: int, role: str) -> dict[str, Any]:
    """One predictor; its labels reach the pods, where the chart's model Service and PodMonitor select them."""
    rendered: dict[str, Any]
    (rendered,) = _tempo_manifest(name, predictor, target, replicas)["spec"]["predictors"]
    rendered["name"] = f"v{predictor.version}"
    rendered["traffic"] = predictor.traffic
    rendered.setdefault("annotations", {})["seldon.io/svc-name"] = predictor_service(name, predictor.version)
    rendered.setdefault("labels", {}).update(
        {
            "mlplatform.io/registered-model": name,
            "mlplatform.io/model-version": predictor.version,
            PREDICTOR_LABEL: role,
        }
    )
    return rendered


def to_yaml(manifest: dict[str, Any]) -> str:
    return yaml.safe_dump(manifest, sort_keys=False)


def write(manifest: dict[str, Any], output_dir: Path) -> Path:
    """One file per SeldonDeployment, overwritten at each stage: Git history holds the rollout."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"{manifest['metadata']['name']}.seldondeployment.yaml"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(to_yaml(manifest))
    tmp.replace(path)
    return path


def apply(manifest: dict[str, Any]) -> None:
    """Create or update the SeldonDeployment by server-side apply, as field manager `mlp-promoter`.

    The credentials are Tempo's: the pod's ServiceAccount in a cluster (the chart grants `mlp-promoter` create
    and patch on SeldonDeployments in the models namespace), else the current kubeconfig context. An apply
    needs no resourceVersion, so the operator updating the object's status in between cannot make it fail.
    """
    from kubernetes import client
    from tempo.k8s.utils import create_k8s_client

    create_k8s_client()
    group, version = API_VERSION.split("/")
    namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
    client.CustomObjectsApi().patch_namespaced_custom_object(
        group,
        version,
        namespace,
        "seldondeployments",
        name,
        manifest,
        field_manager=MANAGED_BY,
        force=True,
        _content_type="application/apply-patch+yaml",
    )


def read(namespace: str, name: str) -> dict[str, Any] | None:
    """The SeldonDeployment as the API server has it (spec and the operator's status), or None."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from tempo.k8s.utils import create_k8s_client

    create_k8s_client()
    group, version = API_VERSION.split("/")
    try:
        found: dict[str, Any] = client.CustomObjectsApi().get_namespaced_custom_object(
            group, version, namespace, "seldondeployments", name
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return found


class SeldonTarget(Target):
    """One SeldonDeployment per registered model in the models namespace: applied (server-side), written to
    `output_dir` (GitOps), or only shown (dry run)."""

    name = "seldon"
    canary = True

    def __init__(self, options: SeldonOptions, output_dir: Path | None = None, *, dry_run: bool = False) -> None:
        super().__init__(dry_run=dry_run)
        self.options = options
        self.output_dir = output_dir

    @classmethod
    def from_cli(cls, args: argparse.Namespace) -> SeldonTarget:
        options = SeldonOptions(args.namespace, args.secret_name, args.artifact_root, args.replicas, args.cpu_request)
        return cls(options, args.output_dir, dry_run=args.dry_run)

    def publish(self, model_name: str, rollouts: list[Rollout], policy: Policy) -> dict[str, Any]:
        # MLServer's batching is the local target's; here the policy says how many replicas serve each version.
        manifest = render(model_name, rollouts, self.options, policy.autoscaling)
        if self.dry_run:
            return {"manifests": [manifest]}
        if self.output_dir:
            return {"manifest_files": [str(write(manifest, self.output_dir))]}
        where = f"{manifest['metadata']['namespace']}/{manifest['metadata']['name']}"
        try:
            apply(manifest)
        except Exception as exc:  # any client or API failure: the cluster did not take it
            status = getattr(exc, "status", None)
            if status in {401, 403}:
                raise RolloutError(
                    f"the Kubernetes API refused to apply SeldonDeployment {where} (HTTP {status} "
                    f"{getattr(exc, 'reason', '')}): run the promoter as a ServiceAccount allowed to create and "
                    "patch seldondeployments there (the chart's airflowTasks.promoterServiceAccount, mlp-promoter)"
                ) from exc
            raise RolloutError(
                f"applying SeldonDeployment {where} failed ({type(exc).__name__}: {exc}); "
                "without a cluster use --dry-run or --output-dir"
            ) from exc
        return {"applied": where}

    def version_state(self, model_name: str, version: str) -> dict[str, Any]:
        """From the SeldonDeployment: is there a predictor for the version, and is the deployment Available?"""
        name, namespace = deployment_name(model_name), self.options.namespace
        service = f"http://{predictor_service(name, version)}.{namespace}.svc:{EXECUTOR_PORT}/v2/models/{name}"
        found = read(namespace, name)
        predictors = {p.get("name") for p in (found or {}).get("spec", {}).get("predictors", [])}
        status = (found or {}).get("status", {})
        if found is None:
            state = f"no SeldonDeployment {namespace}/{name}"
        elif f"v{version}" not in predictors:
            state = f"SeldonDeployment {namespace}/{name} has no predictor v{version}"
        else:
            state = str(status.get("state") or "Creating")
        ready = state == "Available"
        return {"ready": ready, "state": state, "endpoint": f"{service}/infer", "docs": f"{service}/docs"}
