"""NetworkPolicies of the platform's data services and the models namespace (templates/networkpolicies/)."""

from __future__ import annotations

from typing import Any


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
