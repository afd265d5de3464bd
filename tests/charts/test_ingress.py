"""Endpoints from outside the cluster (templates/ingress/, values `ingress`): off by default; enabled, one TLS
host on ingress-nginx where every path is authenticated once (the models API by its own bearer token, the rest by
the Ingress's basic or external authentication); refused without TLS or authentication; and the NetworkPolicies
admit the ingress controller's namespace to what it routes to, only while it is on."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from tests.charts.conftest import Rendered, chart_render
from tests.charts.test_networkpolicies import admits, selects

HOST = "mlp.example.test"
ON = ("ingress.enabled=true", f"ingress.host={HOST}", "ingress.tls.secretName=mlp-tls")
BASIC = (*ON, "ingress.auth.basicSecret=mlp-htpasswd")
EXTERNAL = (
    *ON,
    "ingress.auth.url=https://auth.example.test/oauth2/auth",
    "ingress.auth.signinUrl=https://auth.example.test/oauth2/start",
)
NGINX = "nginx.ingress.kubernetes.io/"
AUTH_KEYS = {f"{NGINX}auth-type", f"{NGINX}auth-secret", f"{NGINX}auth-url", f"{NGINX}auth-signin"}


def ingresses(rendered: Rendered) -> dict[str, dict[str, Any]]:
    return {i["metadata"]["name"]: i for i in rendered.of_kind("Ingress")}


def paths(ingress: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (rule,) = ingress["spec"]["rules"]
    return {p["path"]: p for p in rule["http"]["paths"]}


def test_off_by_default(platform):
    """No profile exposes anything: the only Ingresses are those one turns on."""
    assert not platform.of_kind("Ingress")


def test_basic_authentication_tls_and_paths(render, chart_values):
    found = ingresses(render(*BASIC))
    assert set(found) == {"mlp-models-api", "mlp-models-api-docs", "mlp-models"}
    for ingress in found.values():
        assert ingress["spec"]["tls"] == [{"hosts": [HOST], "secretName": "mlp-tls"}]
        assert ingress["spec"]["rules"][0]["host"] == HOST
        assert ingress["spec"]["ingressClassName"] == "nginx"
        assert ingress["metadata"]["annotations"][f"{NGINX}force-ssl-redirect"] == "true"
    for name in ("mlp-models-api-docs", "mlp-models"):
        annotations = found[name]["metadata"]["annotations"]
        assert annotations[f"{NGINX}auth-type"] == "basic"
        assert annotations[f"{NGINX}auth-secret"] == "mlp-htpasswd"
    assert set(paths(found["mlp-models-api"])) == {"/models"}
    assert set(paths(found["mlp-models-api-docs"])) == {"/docs", "/openapi.json"}
    models = chart_values["mlplatform"]["seldon"]
    assert found["mlp-models"]["metadata"]["namespace"] == models["namespace"]
    assert set(paths(found["mlp-models"])) == {f"/v2/models/{m}" for m in models["servedModels"]}


@pytest.mark.parametrize("auth", [BASIC, EXTERNAL], ids=["basic", "external"])
def test_ingresses_and_their_policies_validate_strictly(render, auth):
    rendered = render(*auth)
    for doc in rendered.of_kind("Ingress") + rendered.of_kind("NetworkPolicy"):
        kubernetes_validate.validate(doc, chart_render.KUBE_VERSION, strict=True)


def test_the_models_api_path_is_authenticated_by_its_own_token(render):
    """/models carries the API's bearer token in the one Authorization header a request has: the Ingress adds no
    login of its own there, and the API behind it always requires the token (from its Secret)."""
    rendered = render(*BASIC)
    annotations = ingresses(rendered)["mlp-models-api"]["metadata"]["annotations"]
    assert not AUTH_KEYS & set(annotations)
    (api,) = rendered.get("Deployment", "mlp-models-api")["spec"]["template"]["spec"]["containers"]
    token = {e["name"]: e for e in api["env"]}["MLP_MODELS_API_TOKEN"]
    assert "secretKeyRef" in token["valueFrom"] and "value" not in token


def test_external_authentication(render):
    found = ingresses(render(*EXTERNAL))
    for name in ("mlp-models-api-docs", "mlp-models"):
        annotations = found[name]["metadata"]["annotations"]
        assert annotations[f"{NGINX}auth-url"] == "https://auth.example.test/oauth2/auth"
        assert annotations[f"{NGINX}auth-signin"] == "https://auth.example.test/oauth2/start"
        assert f"{NGINX}auth-type" not in annotations


def test_every_backend_is_a_service_of_the_ingress_namespace_with_port_http(render):
    rendered = render(*BASIC)
    for ingress in rendered.of_kind("Ingress"):
        namespace = ingress["metadata"]["namespace"]
        for path in paths(ingress).values():
            backend = path["backend"]["service"]
            services = [
                s
                for s in rendered.of_kind("Service")
                if s["metadata"]["name"] == backend["name"] and s["metadata"].get("namespace") == namespace
            ]
            assert services, f"{namespace}/{backend['name']}"
            assert backend["port"] == {"name": "http"}
            assert "http" in {p["name"] for p in services[0]["spec"]["ports"]}


def test_cert_manager_and_extra_annotations(render):
    found = ingresses(render(*BASIC, "ingress.tls.clusterIssuer=letsencrypt", "ingress.annotations.team=ml"))
    for ingress in found.values():
        assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
        assert ingress["metadata"]["annotations"]["team"] == "ml"


def test_models_can_stay_inside(render):
    assert set(ingresses(render(*BASIC, "ingress.models=false"))) == {"mlp-models-api", "mlp-models-api-docs"}


def test_secrets_are_referenced_not_inlined(render):
    """The TLS and htpasswd Secrets are the user's (or cert-manager's): the chart names them and renders neither."""
    rendered = render(*BASIC)
    secrets = {s["metadata"]["name"] for s in rendered.of_kind("Secret")}
    assert not {"mlp-tls", "mlp-htpasswd"} & secrets
    for ingress in rendered.of_kind("Ingress"):
        assert all(":" not in v and "$apr1$" not in v for v in ingress["metadata"]["annotations"].values())


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("ingress.enabled=true",), "ingress.enabled needs ingress.host"),
        (("ingress.enabled=true", f"ingress.host={HOST}"), "ingress.enabled needs ingress.tls.secretName"),
        (ON, "ingress.enabled needs authentication: set ingress.auth.basicSecret"),
        (
            (*BASIC, "ingress.auth.url=https://auth.example.test"),
            "ingress.auth: set one of basicSecret (an htpasswd Secret) and url",
        ),
        (
            (*BASIC, "components.modelsApi=false", "ingress.models=false"),
            "ingress.enabled has nothing to expose",
        ),
    ],
    ids=["no-host", "no-tls", "no-auth", "two-auths", "nothing"],
)
def test_refused_without_tls_or_authentication(render_failure, sets, message):
    assert message in render_failure(*sets)


def controller(chart_values: dict[str, Any]) -> tuple[str, dict[str, str]]:
    found = chart_values["mlplatform"]["ingress"]["controller"]
    return found["namespace"], found["podLabels"]


def test_network_policies_admit_the_controller_only_while_enabled(dev, render, chart_values):
    namespace, labels = controller(chart_values)
    port = chart_values["mlplatform"]["modelsApi"]["port"]
    api = dev.get("Deployment", "mlp-models-api")["spec"]["template"]["metadata"]["labels"]
    assert not admits(dev, api, port, namespace, labels)
    assert not [p for p in dev.of_kind("NetworkPolicy") if p["metadata"]["name"] == "mlp-models-ingress"]
    enabled = render(*BASIC)
    assert admits(enabled, api, port, namespace, labels)
    assert not admits(enabled, api, port, namespace, {"app": "something-else"})
    assert not admits(enabled, api, port, "default", labels)
    assert not admits(enabled, api, 5000, namespace, labels), "only the API's port"


def test_the_models_admit_the_controller_on_the_executor_port_only_while_enabled(render, chart_values):
    namespace, labels = controller(chart_values)
    seldon = chart_values["mlplatform"]["seldon"]
    policy = render(*BASIC).get("NetworkPolicy", "mlp-models-ingress")
    assert policy["metadata"]["namespace"] == seldon["namespace"]
    for model in seldon["servedModels"]:
        assert selects(policy["spec"]["podSelector"], {"mlplatform.io/registered-model": model})
    assert not selects(policy["spec"]["podSelector"], {"mlplatform.io/registered-model": "another-model"})
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": seldon["executorPort"], "protocol": "TCP"}]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "podSelector": {"matchLabels": labels},
        }
    ]
    everyone_else = render(*BASIC).get("NetworkPolicy", "mlp-models")["spec"]["ingress"][0]["from"]
    assert {"kubernetes.io/metadata.name": namespace} not in [
        p.get("namespaceSelector", {}).get("matchLabels") for p in everyone_else
    ]
