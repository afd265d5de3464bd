"""The model management API in the chart (templates/models-api/): one contract between the chart and
`mlp_promoter.api.ApiSettings`, the account it runs as, its token, and who may reach it.

ApiSettings is read from the promoter's own environment (pydantic 1, beside mlops-tempo), as the pipelines'
settings are in test_pipelines.py: every MLP_MODELS_API_* variable the chart sets must be one of its fields, the
API must read them as the chart means them (its target options are `mlp-promote`'s), and the target options must
be the ones the pipelines' promote pods get, so that the API and the pipelines act on the same models.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.charts.conftest import REPO, Rendered, component_settings
from tests.charts.test_networkpolicies import admits
from tests.charts.test_pipelines import chart_variables, find, service_of

PROMOTER_PYTHON = REPO / "pipelines" / "promoter" / ".venv" / "bin" / "python"
NAME = "mlp-models-api"


def api_settings() -> dict[str, Any]:
    return component_settings("pipelines/promoter", "mlp_promoter.api:ApiSettings")


def deployment(rendered: Rendered) -> dict[str, Any]:
    return rendered.get("Deployment", NAME)


def container(rendered: Rendered) -> dict[str, Any]:
    (only,) = deployment(rendered)["spec"]["template"]["spec"]["containers"]
    return dict(only)


def env(rendered: Rendered) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(rendered)["env"]}


def values(rendered: Rendered) -> dict[str, str]:
    """The plain MLP_MODELS_API_* values (those from Secrets are checked to come from Secrets)."""
    prefix = api_settings()["prefix"]
    return {k: e["value"] for k, e in env(rendered).items() if k.startswith(prefix) and "value" in e}


def test_the_prefix_is_the_settings_prefix():
    assert api_settings()["prefix"] == "MLP_MODELS_API_"


def test_every_variable_is_a_setting_the_api_reads_and_the_target_is_seldon(platform):
    known = api_settings()
    ours = [name for name in env(platform) if name.startswith(known["prefix"])]
    assert ours
    for name in ours:
        assert name.removeprefix(known["prefix"]).lower() in known["defaults"], f"{name} is read by no setting"
    assert values(platform)["MLP_MODELS_API_TARGET"] == "seldon"


def test_the_api_reads_the_charts_settings_and_its_target_options_are_the_promoters(dev):
    """ApiSettings parses the rendered variables (TARGET_ARGS as a JSON list), and `mlp-promote`'s own parser
    takes the target options, naming the seldon target's namespace, storage Secret and artifact root."""
    code = (
        "import json; from mlp_promoter.api import ApiSettings; from mlp_promoter.cli import parser; "
        "s = ApiSettings(); "
        "a = parser('finalize').parse_args(['--model-name', '-', '--target', s.target] + s.target_args); "
        "print(json.dumps({'host': s.host, 'port': s.port, 'target': s.target, 'tracking_uri': s.tracking_uri, "
        "'namespace': a.namespace, 'secret_name': a.secret_name, 'artifact_root': a.artifact_root}))"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLP_")} | values(dev)
    result = subprocess.run([str(PROMOTER_PYTHON), "-c", code], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout)
    pipelines = chart_variables(dev)
    assert read["target"] == "seldon" and read["host"] == "0.0.0.0"
    assert read["namespace"] == pipelines["MLP_PIPELINES__MODELS_NAMESPACE"]
    assert read["secret_name"] == pipelines["MLP_PIPELINES__MODEL_STORAGE_SECRET"]
    assert read["artifact_root"] == pipelines["MLP_PIPELINES__ARTIFACT_ROOT"]
    assert read["tracking_uri"] == pipelines["MLP_PIPELINES__MLFLOW_TRACKING_URI"]
    ports = {p["name"]: p["containerPort"] for p in container(dev)["ports"]}
    assert read["port"] == ports["http"]


def test_every_address_is_a_rendered_service(platform):
    """Tracking URI, Prometheus (the pipelines' own), and the storage Secret the promoter names in the models
    namespace."""
    given = values(platform)
    service_of(given["MLP_MODELS_API_TRACKING_URI"], platform)
    assert given["MLP_MODELS_API_PROMETHEUS_URL"] == chart_variables(platform)["MLP_PIPELINES__PROMETHEUS_URL"]
    args = json.loads(given["MLP_MODELS_API_TARGET_ARGS"])
    options = dict(zip(args[::2], args[1::2], strict=True))
    find(platform, "Secret", options["--secret-name"], options["--namespace"])


def test_it_runs_the_promoters_image_and_console_script(platform):
    assert container(platform)["image"] == chart_variables(platform)["MLP_PIPELINES__PROMOTER_IMAGE"]
    assert container(platform)["command"] == ["mlp-models-api"]
    assert PROMOTER_PYTHON.with_name("mlp-models-api").exists(), "the console script of the promoter's project"


def test_it_runs_as_the_promoter_with_a_token_for_the_kubernetes_client(platform, chart_values):
    account = chart_values["mlplatform"]["airflowTasks"]["promoterServiceAccount"]
    pod = deployment(platform)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account
    assert pod["automountServiceAccountToken"] is True
    assert platform.get("ServiceAccount", account).get("automountServiceAccountToken") is not False
    binding = platform.get("RoleBinding", "mlp-promoter")
    assert binding["metadata"]["namespace"] == chart_values["mlplatform"]["seldon"]["namespace"]
    assert {"kind": "ServiceAccount", "name": account, "namespace": "mlp"} in binding["subjects"]
    assert {"get", "list"} <= set(platform.get("Role", "mlp-promoter")["rules"][0]["verbs"]), "it reads their state"


def test_its_account_exists_without_airflow(render, chart_values):
    rendered = render("components.airflow=false")
    account = chart_values["mlplatform"]["airflowTasks"]["promoterServiceAccount"]
    assert deployment(rendered)["spec"]["template"]["spec"]["serviceAccountName"] == account
    rendered.get("ServiceAccount", account)
    rendered.get("RoleBinding", "mlp-promoter")
    assert "MLP_MODELS_API_AIRFLOW_URL" not in env(rendered)


def test_hardened_with_probes_on_health_and_a_named_port(platform):
    pod = deployment(platform)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container(platform)["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["capabilities"]["drop"] == ["ALL"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container(platform)[probe]["httpGet"] == {"path": "/health", "port": "http"}
    service = platform.get("Service", NAME)
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= deployment(platform)["spec"]["template"]["metadata"]["labels"].items()


def test_the_token_comes_from_a_generated_secret_kept_across_upgrades(dev, render):
    ref = env(dev)["MLP_MODELS_API_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert "value" not in env(dev)["MLP_MODELS_API_TOKEN"]
    secret = dev.get("Secret", ref["name"])
    assert ref["key"] in secret["data"]
    again = render("images.pullPolicy=IfNotPresent")
    assert again.get("Secret", ref["name"])["data"] != secret["data"], "generated, not fixed"
    template = (REPO / "charts/mlplatform/templates/models-api/secret.yaml").read_text()
    assert 'include "mlp.credential"' in template, "generated through the lookup-preserving helper"


def test_an_existing_token_secret_is_referenced_not_generated(render):
    rendered = render("modelsApi.token.existingSecret=my-token", "modelsApi.token.key=value")
    assert env(rendered)["MLP_MODELS_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "my-token", "key": "value"}
    assert not [s for s in rendered.of_kind("Secret") if s["metadata"]["name"].endswith("models-api-token")]


def test_airflow_is_optional_and_its_login_comes_from_a_secret(dev, render):
    assert not {k for k in env(dev) if "AIRFLOW" in k}, "no Airflow API login exists unless one is named"
    rendered = render("modelsApi.airflow.credentialsSecret=airflow-api-user")
    variables = env(rendered)
    service_of(variables["MLP_MODELS_API_AIRFLOW_URL"]["value"], rendered)
    assert variables["MLP_MODELS_API_AIRFLOW_USER"]["valueFrom"]["secretKeyRef"] == {
        "name": "airflow-api-user",
        "key": "username",
    }
    assert variables["MLP_MODELS_API_AIRFLOW_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "airflow-api-user",
        "key": "password",
    }


def test_prod_runs_two_with_a_disruption_budget(prod, dev):
    assert deployment(prod)["spec"]["replicas"] == 2
    assert prod.get("PodDisruptionBudget", NAME)["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == (
        "models-api"
    )
    assert deployment(dev)["spec"]["replicas"] == 1


def test_prod_airflow_admits_the_api_to_its_rest_api(prod):
    labels = deployment(prod)["spec"]["template"]["metadata"]["labels"]
    api_server = prod.get("Deployment", "mlp-api-server")["spec"]["template"]["metadata"]["labels"]
    assert admits(prod, api_server, 8080, "mlp", labels)


def test_only_its_own_namespace_reaches_it_by_default(platform, chart_values):
    port = chart_values["mlplatform"]["modelsApi"]["port"]
    labels = deployment(platform)["spec"]["template"]["metadata"]["labels"]
    assert admits(platform, labels, port, "mlp", {"app": "anything"})
    controller = chart_values["mlplatform"]["ingress"]["controller"]
    assert not admits(platform, labels, port, controller["namespace"], controller["podLabels"])
    assert not admits(platform, labels, port, "mlp-models", {})


def test_disabled_it_renders_nothing(render):
    rendered = render("components.modelsApi=false")
    assert not [d for d in rendered.docs if "models-api" in d["metadata"]["name"]]


@pytest.mark.parametrize("missing", ["mlflow", "seldon"])
def test_it_needs_mlflow_and_seldon(render_failure, missing):
    error = render_failure(f"components.{missing}=false")
    assert "components.modelsApi needs components.mlflow" in error and "components.modelsApi=false" in error
