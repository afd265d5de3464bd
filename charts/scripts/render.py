"""The one renderer of the platform's charts: chart.mk's targets and the chart tests both use it.

- `deps` puts every pinned dependency archive in `charts/<chart>/charts/`: already there, else copied
  from a folder of archives (`MLP_CHART_ARCHIVES`, by default `../shared/charts` beside the clone),
  else fetched by `helm dependency build` from the chart repositories. In CI (`CI=true`) an archive
  that cannot be had is an error.
- `prepare`, `template`, `footprint` and `images` render with the real subcharts. Only where an
  archive is absent (a clone with neither the archives nor the chart repositories) is the chart copied
  to a build folder and the dependency replaced by a stand-in chart (name and version, no templates);
  a note on stderr names the stand-ins, whose objects are then absent from the output.
- `crds` prints every CustomResourceDefinition the prerequisites bring (their charts' `crds/` folders
  and CRD templates), which `make install` applies server-side before the prerequisites release, so
  no CRD is stored in, upgraded by or deleted with a release.
"""

from __future__ import annotations

import argparse
import json
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
# Values that switch the subcharts' CRD templates on; `crds` renders them, the release leaves them off.
CRD_TEMPLATE_SWITCHES = ["seldon-core-operator.crd.create=true", "cloudnative-pg.crds.create=true"]
# Marks the CRDs that releases of an earlier chart installed as templates, so that upgrading such a
# release to this chart (which no longer renders them) leaves them and their custom resources alone.
KEEP = {"helm.sh/resource-policy": "keep"}


class RenderError(Exception):
    """A chart cannot be rendered; the message says why and what to do."""


def helm() -> str:
    """The Helm binary: $HELM, else the cache path `make setup` builds, else PATH."""
    candidates = [os.environ.get("HELM", ""), str(Path.home() / ".cache/mlp/tools/helm-v3.22.0/helm")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("helm")
    if not found:
        raise RenderError("Helm is not installed: run `make setup`.")
    return found


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def archive_folder() -> Path:
    """Where pinned chart archives are taken from when the chart repositories are unreachable."""
    return Path(os.environ.get("MLP_CHART_ARCHIVES") or ROOT.parent / "shared" / "charts")


def dependencies(chart: str) -> list[dict[str, Any]]:
    meta = yaml.safe_load((CHARTS / chart / "Chart.yaml").read_text())
    return list(meta.get("dependencies", []))


def archive_name(dep: dict[str, Any]) -> str:
    return f"{dep['name']}-{dep['version']}.tgz"


def has_archive(chart_dir: Path, dep: dict[str, Any]) -> bool:
    sub = chart_dir / "charts"
    return (sub / archive_name(dep)).is_file() or (sub / dep["name"] / "templates").is_dir()


def missing_archives(chart: str) -> list[dict[str, Any]]:
    return [d for d in dependencies(chart) if not has_archive(CHARTS / chart, d)]


# Files of the repository the umbrella chart packages (helm reads nothing outside a chart's folder): the
# recipes and their DAG files, for the recipes ConfigMap. Copied fresh before every render and install.
PACKAGED = {"mlplatform": [(ROOT / "pipelines" / "recipes", ("*.yaml", "*.yml", "*.py"), "files/recipes")]}


def package_files(chart: str) -> None:
    """Copy the repository files `chart` packages into it, dropping copies whose source is gone."""
    for source, patterns, target in PACKAGED.get(chart, []):
        folder = CHARTS / chart / target
        folder.mkdir(parents=True, exist_ok=True)
        wanted = {path.name: path for pattern in patterns for path in source.glob(pattern)}
        for stale in set(p.name for p in folder.iterdir()) - set(wanted):
            (folder / stale).unlink()
        for name, path in wanted.items():
            if not (folder / name).is_file() or (folder / name).read_bytes() != path.read_bytes():
                shutil.copyfile(path, folder / name)


def deps(charts: Iterable[str]) -> None:
    """Put every dependency archive in place: copy from the archive folder, else `helm dependency build`."""
    source = archive_folder()
    for chart in charts:
        package_files(chart)
        for dep in missing_archives(chart):
            local = source / archive_name(dep)
            if local.is_file():
                (CHARTS / chart / "charts").mkdir(exist_ok=True)
                shutil.copy2(local, CHARTS / chart / "charts" / archive_name(dep))
                print(f"{chart}: {archive_name(dep)} from {source}", file=sys.stderr)
        if not missing_archives(chart):
            continue
        for dep in missing_archives(chart):  # Helm fetches from HTTP repositories only once they are added
            if dep["repository"].startswith("http"):
                add = [helm(), "repo", "add", dep["name"], dep["repository"], "--force-update"]
                subprocess.run(add, capture_output=True, text=True, check=False)
        result = subprocess.run(
            [helm(), "dependency", "build", str(CHARTS / chart)], capture_output=True, text=True, check=False
        )
        still = [archive_name(d) for d in missing_archives(chart)]
        if still:
            message = (
                f"{chart}: dependency archives {', '.join(still)} are neither in {source} (set "
                "MLP_CHART_ARCHIVES to a folder holding them) nor fetchable from the chart repositories "
                f"(`helm dependency build` said: {result.stderr.strip().splitlines()[-1:] or ['nothing']})"
            )
            if in_ci():
                raise RenderError(message)
            print(f"note: {message}; renders use stand-in subcharts", file=sys.stderr)


def prepare(chart: str) -> tuple[Path, list[str]]:
    """A renderable copy of `chart`: real dependency archives where present, stand-ins elsewhere."""
    source = CHARTS / chart
    package_files(chart)
    missing = missing_archives(chart)
    if not missing:
        return source, []
    names = [d["name"] for d in missing]
    if in_ci():
        raise RenderError(f"{chart}: dependency archives of {', '.join(names)} are absent: run `make chart-deps`")
    target = BUILD / chart
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".build", ".vendor"))
    for dep in missing:
        standin = target / "charts" / dep["name"]
        standin.mkdir(parents=True, exist_ok=True)
        standin_meta = {"apiVersion": "v2", "name": dep["name"], "version": str(dep["version"])}
        (standin / "Chart.yaml").write_text(yaml.safe_dump(standin_meta))
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
            raise RenderError(f"No profile {path}")
    return args


def helm_template(chart: str, args: list[str], chart_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`helm template` of one chart as its release, with extra arguments; the caller checks the result."""
    release, namespace = RELEASES[chart]
    cmd = [helm(), "template", release, str(chart_dir or prepare(chart)[0]), "-n", namespace]
    cmd += ["--kube-version", KUBE_VERSION, *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def template(chart: str, profiles: list[str], extra: list[str] | None = None) -> str:
    result = helm_template(chart, profile_files(chart, profiles) + (extra or []))
    if result.returncode != 0:
        raise RenderError(f"helm template {chart} ({', '.join(profiles)}) failed:\n{result.stderr}")
    return result.stdout


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader (libyaml's where present: renders run to megabytes) that also reads the `=` scalars
    some upstream CRDs hold (enum values)."""


Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def documents(text: str) -> Iterator[dict[str, Any]]:
    for doc in yaml.load_all(text, Loader=Loader):
        if isinstance(doc, dict) and doc.get("kind"):
            yield doc


def crds(profiles: list[str]) -> list[dict[str, Any]]:
    """Every CRD of the prerequisites (crds/ folders and CRD templates), each marked to be kept."""
    sets = [a for s in CRD_TEMPLATE_SWITCHES for a in ("--set", s)]
    found = [d for d in documents(template("mlplatform-prereqs", profiles, ["--include-crds", *sets]))]
    definitions = [d for d in found if d["kind"] == "CustomResourceDefinition"]
    for doc in definitions:
        doc["metadata"].setdefault("annotations", {}).update(KEEP)
    return definitions


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


def autoscaled(docs: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """minReplicas of each workload a HorizontalPodAutoscaler sizes, by (kind, name): it sets no replicas itself."""
    return {
        (d["spec"]["scaleTargetRef"]["kind"], d["spec"]["scaleTargetRef"]["name"]): int(d["spec"].get("minReplicas", 1))
        for d in docs
        if d["kind"] == "HorizontalPodAutoscaler"
    }


def pod_requests(
    doc: dict[str, Any], scaled: dict[tuple[str, str], int] | None = None
) -> Iterator[tuple[str, int, float, float]]:
    """(name, replicas, cpu, memory) of the pods one object stands for (workloads and operator CRs); a workload
    an autoscaler sizes counts its minReplicas (`scaled`, from `autoscaled`)."""
    kind, spec, name = doc["kind"], doc.get("spec", {}), doc["metadata"]["name"]
    if kind in {"Deployment", "StatefulSet", "DaemonSet"}:
        pod = spec["template"]["spec"]
        totals = [requests_of(c.get("resources")) for c in pod.get("containers", [])]
        replicas = 1 if kind == "DaemonSet" else int(spec.get("replicas", (scaled or {}).get((kind, name), 1)))
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
            docs = list(documents(template(chart, layers)))
            scaled = autoscaled(docs)
            for doc in docs:
                rows.extend(pod_requests(doc, scaled))
        total_cpu = sum(r[1] * r[2] for r in rows)
        total_mem = sum(r[1] * r[3] for r in rows)
        print(f"\n== profile {profile}: requests of the objects rendered (stand-in subcharts excluded)")
        for name, replicas, c, m in rows:
            print(f"  {name:<52} x{replicas:<2} cpu {replicas * c:6.2f}  memory {replicas * m / 2**30:6.2f} GiB")
        print(f"  {'TOTAL':<55} cpu {total_cpu:6.2f}  memory {total_mem / 2**30:6.2f} GiB")


# -- images ------------------------------------------------------------------------------------


# A reference with a registry or repository path and a tag or digest, as operators take them in flags,
# environment variables and configuration (`--prometheus-config-reloader=quay.io/...:v0.93.1`).
TAGGED_REF = re.compile(r"([a-z0-9.-]+(?::[0-9]+)?/[a-z0-9./_-]+(?::[\w.-]+|@sha256:[0-9a-f]{64}))")
IMAGE_KEYS = {"image", "imageName", "image_v2"}


# An `image:` line of YAML held as text (a recipe in a ConfigMap); the value must be a tagged reference.
IMAGE_LINE = re.compile(r"""^\s*(?:-\s+)?["']?image["']?\s*:\s*["']?([^\s"'#]+)["']?\s*(?:#.*)?$""", re.MULTILINE)


def images_in_text(text: str) -> Iterator[str]:
    """Images named in a ConfigMap's text values, which programs in the cluster start pods with: a value that
    is one tagged reference (a setting such as MLP_PIPELINES__PROMOTER_IMAGE), and `image:` lines of YAML
    held as text (a recipe naming its training image). JSON values are walked as objects by `images_in`."""
    if TAGGED_REF.fullmatch(text.strip()):
        yield text.strip()
        return
    for match in IMAGE_LINE.finditer(text):
        if TAGGED_REF.fullmatch(match.group(1)):
            yield match.group(1)


def built_in_cluster(doc: dict[str, Any]) -> Iterator[str]:
    """Images an operator builds and pushes in the cluster, then pulls back: Strimzi's KafkaConnect build
    output. `make vendor` lists them (the cluster pulls them); nobody builds or mirrors them beforehand."""
    if doc.get("kind") == "KafkaConnect":
        output = ((doc.get("spec") or {}).get("build") or {}).get("output") or {}
        if isinstance(output.get("image"), str):
            yield output["image"]


def images_in(node: Any, key: str = "") -> Iterator[str]:
    """Every image a rendered object makes a cluster pull: container images, images of operator custom
    resources, images passed to operators in flags or environment variables, images named in
    operator configuration held as JSON in ConfigMaps (Seldon's predictor servers and initializers), and
    images named in other ConfigMap text (`images_in_text`: the pipelines' settings and recipes)."""
    if isinstance(node, dict):
        if node.get("kind") == "ConfigMap" and isinstance(node.get("data"), dict):
            for value in node["data"].values():
                if isinstance(value, str):
                    yield from images_in_text(value)
        if isinstance(node.get("image"), str) and "defaultImageVersion" in node:
            yield f"{node['image']}:{node['defaultImageVersion']}"
            node = {k: v for k, v in node.items() if k != "image"}
        for k, v in node.items():
            yield from images_in(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from images_in(v, key)
    elif isinstance(node, str) and key in IMAGE_KEYS:
        yield node
    elif isinstance(node, str) and node.lstrip().startswith(("{", "[")):
        try:
            parsed = json.loads(node)
        except ValueError:
            return
        yield from images_in(parsed, key)
    elif isinstance(node, str) and key in {"value", "args", "command"}:
        for part in re.split(r"[\s,;]+", node):
            # `--flag=REF` and Strimzi's version maps `4.3.1=REF`.
            match = TAGGED_REF.fullmatch(part.split("=", 1)[-1])
            if match:
                yield match.group(1)


def release_documents(profiles: list[str]) -> Iterator[dict[str, Any]]:
    """Every object both releases of these profiles render, the prerequisites' first."""
    for chart in ("mlplatform-prereqs", "mlplatform"):
        yield from documents(template(chart, profiles))


def images(profiles: list[str]) -> list[str]:
    """Every image both releases of these profiles make a cluster pull (what `make vendor` lists)."""
    return sorted({image for doc in release_documents(profiles) for image in images_in(doc)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["deps", "prepare", "template", "crds", "footprint", "images"])
    parser.add_argument("--chart", choices=sorted(CHART_OF), default="umbrella")
    parser.add_argument("--profile", default="dev", help="comma-separated profiles, applied in order")
    args = parser.parse_args()
    profiles = [p for p in args.profile.split(",") if p]
    if args.action == "deps":
        deps(CHART_OF.values())
    elif args.action == "prepare":
        print(prepare(CHART_OF[args.chart])[0])
    elif args.action == "template":
        sys.stdout.write(template(CHART_OF[args.chart], profiles))
    elif args.action == "crds":
        # JSON documents are YAML documents, and far quicker to write than YAML for 9 MB of schemas.
        sys.stdout.write("".join(f"---\n{json.dumps(doc)}\n" for doc in crds(profiles)))
    elif args.action == "footprint":
        footprint(profiles)
    else:
        print("\n".join(images(profiles)))


if __name__ == "__main__":
    try:
        main()
    except RenderError as error:
        sys.exit(f"error: {error}")
