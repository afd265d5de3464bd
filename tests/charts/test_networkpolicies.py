"""NetworkPolicies of the platform's data services and the models namespace (templates/networkpolicies/)."""

from __future__ import annotations

from typing import Any

from tests.charts.conftest import require_real_subcharts


def policies(rendered: Any) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in rendered.of_kind("NetworkPolicy")}


def test_policies_exist_for_every_data_service(platform):
    assert {"mlp-mlflow", "mlp-postgres", "mlp-minio", "mlp-faust", "mlp-models"} <= set(policies(platform))


def test_own_policies_select_the_pods_they_protect(platform):
    found = policies(platform)
    pairs = (("mlp-mlflow", "mlp-mlflow"), ("mlp-faust", "mlp-faust-features"), ("mlp-faust", "mlp-faust-scoring"))
    for name, deployment in pairs:
        labels = platform.get("Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
        assert found[name]["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    (cluster,) = platform.of_kind("Cluster")
    assert found["mlp-postgres"]["spec"]["podSelector"]["matchLabels"] == {
        "cnpg.io/cluster": cluster["metadata"]["name"]
    }


def test_monitoring_and_operators_may_reach_what_they_need(dev, chart_values):
    np = chart_values["mlplatform"]["networkPolicies"]
    found = policies(dev)

    def peers(policy: str, port: int) -> list[dict[str, Any]]:
        rules = found[policy]["spec"]["ingress"]
        return [p for r in rules if any(x["port"] == port for x in r["ports"]) for p in r["from"]]

    def namespaces(peer_list: list[dict[str, Any]]) -> set[str]:
        return {
            p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for p in peer_list
            if "namespaceSelector" in p
        }

    assert np["monitoringNamespace"] in namespaces(peers("mlp-mlflow", 5000))
    assert np["operatorsNamespace"] in namespaces(peers("mlp-postgres", 8000))
    assert np["monitoringNamespace"] in namespaces(peers("mlp-postgres", 9187))
    assert "mlp-models" in namespaces(peers("mlp-minio", 9000)), "Seldon's storage initializer reads models"
    assert np["monitoringNamespace"] not in namespaces(peers("mlp-postgres", 5432))


def test_disabling_network_policies_removes_them(render):
    assert not render("components.networkPolicies=false").of_kind("NetworkPolicy")


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and In/NotIn/Exists expressions) matches these labels."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression["key"], expression["operator"], expression.get("values", [])
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and labels.get(key) in values)
            or (op == "Exists" and key not in labels)
            or (op == "DoesNotExist" and key in labels)
        ):
            return False
    return True


def admits(rendered: Any, to: dict[str, str], port: int, namespace: str, labels: dict[str, str]) -> bool:
    """Whether the release's NetworkPolicies let a pod (namespace, labels) reach pods labelled `to` on
    `port` in the release's namespace, as Kubernetes evaluates them: unselected pods admit everything,
    selected pods admit what any selecting policy's rule admits."""
    own = "mlp"
    selecting = [
        p
        for p in rendered.of_kind("NetworkPolicy")
        if p["metadata"].get("namespace", own) == own and selects(p["spec"]["podSelector"], to)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports and not any(int(p["port"]) == port for p in ports):
                continue
            peers = rule.get("from")
            if peers is None:
                return True
            for peer in peers:
                in_namespace = (
                    selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace})
                    if "namespaceSelector" in peer
                    else namespace == own
                )
                if in_namespace and selects(peer.get("podSelector"), labels):
                    return True
    return False


def pod_labels(rendered: Any, kind: str, name: str) -> dict[str, str]:
    return rendered.get(kind, name)["spec"]["template"]["metadata"]["labels"]


def test_prod_airflow_policies_admit_task_pods_and_prometheus(prod):
    """With the Airflow chart's own policies on (prod), worker pods reach the API server's execution API
    and Prometheus in mlp-system scrapes statsd; anybody else stays out."""
    require_real_subcharts()
    assert any(p["metadata"]["name"] == "mlp-api-server-policy" for p in prod.of_kind("NetworkPolicy"))
    api_server = pod_labels(prod, "Deployment", "mlp-api-server")
    statsd = pod_labels(prod, "Deployment", "mlp-statsd")
    worker = {**prod.airflow_pod_template()["metadata"]["labels"], "release": "mlp"}
    assert admits(prod, api_server, 8080, "mlp", worker)
    assert admits(prod, api_server, 8080, "mlp", pod_labels(prod, "Deployment", "mlp-scheduler"))
    assert not admits(prod, api_server, 8080, "mlp", {"app": "somebody-else"})
    prometheus = {"app.kubernetes.io/name": "prometheus", "prometheus": "mlp-monitoring-prometheus"}
    assert admits(prod, statsd, 9102, "mlp-system", prometheus)
    assert not admits(prod, statsd, 9102, "default", prometheus)
