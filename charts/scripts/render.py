"""Render the platform's charts for the chart.mk targets (template, chart-lint, footprint, vendor).

Chart repositories may be unreachable (air-gapped hosts, CI without internet). When a dependency's
archive is missing from `charts/<chart>/charts/`, the chart is copied to a build folder and the
dependency is replaced by a stand-in chart (name and version only, no templates), so the chart's own
templates still render with the real Helm engine. A note on stderr says which subcharts are stand-ins:
their objects are then absent from the output.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts"
BUILD = CHARTS / ".build"
CHART_OF = {"umbrella": "mlplatform", "prereqs": "mlplatform-prereqs"}
RELEASES = {"mlplatform": ("mlp", "mlp"), "mlplatform-prereqs": ("mlp-prereqs", "mlp-system")}
KUBE_VERSION = "1.33.0"


def helm() -> str:
    """The Helm binary: $HELM, else the cache path `make setup` builds, else PATH."""
    candidates = [os.environ.get("HELM", ""), str(Path.home() / ".cache/mlp/tools/helm-v3.22.0/helm")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("helm")
    if not found:
        sys.exit("Helm is not installed: run `make setup`.")
    return found


def has_archive(chart_dir: Path, name: str, version: str) -> bool:
    sub = chart_dir / "charts"
    return (sub / f"{name}-{version}.tgz").is_file() or (sub / name / "templates").is_dir()


def prepare(chart: str) -> tuple[Path, list[str]]:
    """A renderable copy of `chart`: real dependency archives where present, stand-ins elsewhere."""
    source = CHARTS / chart
    meta = yaml.safe_load((source / "Chart.yaml").read_text())
    missing = [d for d in meta.get("dependencies", []) if not has_archive(source, d["name"], str(d["version"]))]
    if not missing:
        return source, []
    target = BUILD / chart
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".build"))
    for dep in missing:
        standin = target / "charts" / dep["name"]
        standin.mkdir(parents=True, exist_ok=True)
        standin_meta = {"apiVersion": "v2", "name": dep["name"], "version": str(dep["version"])}
        (standin / "Chart.yaml").write_text(yaml.safe_dump(standin_meta))
    names = [d["name"] for d in missing]
    print(f"note: {chart}: stand-in subcharts (archives absent): {', '.join(names)}", file=sys.stderr)
    return target, names


def profile_files(chart: str, profiles: Iterable[str]) -> list[str]:
    folder = ROOT / "values" / ("prereqs" if chart == "mlplatform-prereqs" else "")
    args: list[str] = []
    for profile in profiles:
        path = folder / f"{profile}.yaml"
        if path.is_file():
            args += ["-f", str(path)]
        elif chart == "mlplatform":
            sys.exit(f"No profile {path}")
    return args


def template(chart: str, profiles: list[str], extra: list[str] | None = None) -> str:
    chart_dir, _ = prepare(chart)
    release, namespace = RELEASES[chart]
    cmd = [helm(), "template", release, str(chart_dir), "-n", namespace, "--kube-version", KUBE_VERSION]
    cmd += profile_files(chart, profiles) + (extra or [])
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def documents(text: str) -> Iterator[dict[str, Any]]:
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and doc.get("kind"):
            yield doc


# -- footprint ---------------------------------------------------------------------------------

UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}


def cpu(value: Any) -> float:
    text = str(value or 0)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory(value: Any) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value or 0))
    if not match:
        raise ValueError(f"bad memory quantity {value!r}")
    return float(match.group(1)) * UNITS.get(match.group(2), 1)


def requests_of(resources: dict[str, Any] | None) -> tuple[float, float]:
    req = (resources or {}).get("requests", {})
    return cpu(req.get("cpu")), memory(req.get("memory"))


def pod_requests(doc: dict[str, Any]) -> Iterator[tuple[str, int, float, float]]:
    """(name, replicas, cpu, memory) of the pods one object stands for (workloads and operator CRs)."""
    kind, spec, name = doc["kind"], doc.get("spec", {}), doc["metadata"]["name"]
    if kind in {"Deployment", "StatefulSet", "DaemonSet"}:
        pod = spec["template"]["spec"]
        totals = [requests_of(c.get("resources")) for c in pod.get("containers", [])]
        replicas = 1 if kind == "DaemonSet" else int(spec.get("replicas", 1))
        yield f"{kind}/{name}", replicas, sum(t[0] for t in totals), sum(t[1] for t in totals)
    elif kind == "KafkaNodePool":
        yield f"{kind}/{name}", int(spec["replicas"]), *requests_of(spec.get("resources"))
    elif kind == "Kafka":
        eo = spec.get("entityOperator", {})
        parts = [requests_of(eo.get(k, {}).get("resources")) for k in ("topicOperator", "userOperator")]
        yield f"{kind}/{name} entity-operator", 1, sum(p[0] for p in parts), sum(p[1] for p in parts)
        if "kafkaExporter" in spec:
            yield f"{kind}/{name} kafka-exporter", 1, *requests_of(spec["kafkaExporter"].get("resources"))
    elif kind == "KafkaConnect":
        yield f"{kind}/{name}", int(spec["replicas"]), *requests_of(spec.get("resources"))
    elif kind == "Cluster" and doc["apiVersion"].startswith("postgresql.cnpg.io"):
        yield f"{kind}/{name}", int(spec["instances"]), *requests_of(spec.get("resources"))


def footprint(profiles: list[str]) -> None:
    for profile in profiles:
        layers = profile.split("+")
        rows: list[tuple[str, int, float, float]] = []
        for chart in ("mlplatform-prereqs", "mlplatform"):
            for doc in documents(template(chart, layers)):
                rows.extend(pod_requests(doc))
        total_cpu = sum(r[1] * r[2] for r in rows)
        total_mem = sum(r[1] * r[3] for r in rows)
        print(f"\n== profile {profile}: requests of the objects rendered (stand-in subcharts excluded)")
        for name, replicas, c, m in rows:
            print(f"  {name:<52} x{replicas:<2} cpu {replicas * c:6.2f}  memory {replicas * m / 2**30:6.2f} GiB")
        print(f"  {'TOTAL':<55} cpu {total_cpu:6.2f}  memory {total_mem / 2**30:6.2f} GiB")


# -- images ------------------------------------------------------------------------------------


def images_in(node: Any, key: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from images_in(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from images_in(v, key)
    elif isinstance(node, str) and key in {"image", "imageName"}:
        yield node
    elif isinstance(node, str) and key == "value" and re.search(r"[a-z0-9.-]+/[a-z0-9./_-]+:[\w.-]+", node):
        # Operator image maps such as Strimzi's STRIMZI_KAFKA_IMAGES ("4.3.1=quay.io/...:tag").
        for part in re.split(r"[\s,]+", node):
            ref = part.split("=", 1)[-1]
            if re.fullmatch(r"[a-z0-9.-]+(:[0-9]+)?/[a-z0-9./_-]+:[\w.-]+", ref):
                yield ref


def images(profiles: list[str]) -> None:
    found: set[str] = set()
    for chart in ("mlplatform-prereqs", "mlplatform"):
        for doc in documents(template(chart, profiles)):
            found.update(images_in(doc))
    print("\n".join(sorted(found)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["prepare", "template", "footprint", "images"])
    parser.add_argument("--chart", choices=sorted(CHART_OF), default="umbrella")
    parser.add_argument("--profile", default="dev", help="comma-separated profiles, applied in order")
    args = parser.parse_args()
    profiles = [p for p in args.profile.split(",") if p]
    if args.action == "prepare":
        print(prepare(CHART_OF[args.chart])[0])
    elif args.action == "template":
        sys.stdout.write(template(CHART_OF[args.chart], profiles))
    elif args.action == "footprint":
        footprint(profiles)
    else:
        images(profiles)


if __name__ == "__main__":
    main()
