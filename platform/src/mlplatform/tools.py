"""Where the platform's tools live, and how `mlp setup` installs them into the cache.

Everything slow (Maven artifacts, Go builds, Python environments) is cached outside the work tree,
keyed by the pinned versions, so a clean clone reuses it and a rerun with a warm cache is quick.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlplatform import versions
from mlplatform.config import Settings
from mlplatform.console import console
from mlplatform.errors import PlatformError, ToolMissing

PROJECT_ROOT = Path(__file__).resolve().parents[3]
KAFKA_RUNTIME = PROJECT_ROOT / "platform" / "runtimes" / "kafka"
#: The Go module whose `tool` directives are the control plane's binaries (kube-*, kubectl, etcd).
KUBERNETES_RUNTIME = PROJECT_ROOT / "platform" / "runtimes" / "kubernetes"
#: Binaries it builds; etcd's main package is go.etcd.io/etcd/server/v3, which `go install` names `server`.
KUBERNETES_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd")
#: Files of kwok's own module source, at the pinned version, that `mlp setup` keeps beside the kwok
#: binary: the stages that simulate nodes, pods and volumes, and the cluster objects those stages
#: need (kwok's ClusterRoles and its default StorageClass `kwok-volume`). They are read from the Go
#: module cache, never kept in this repository.
KWOK_STAGE_FILES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
    "kustomize/stage/volume/fast/pvc-provision.yaml",
    "kustomize/stage/volume/fast/pv-bind.yaml",
    "kustomize/stage/volume/fast/pvc-delete.yaml",
    "kustomize/stage/volume/fast/pv-delete.yaml",
)
KWOK_MANIFEST_FILES = (
    "kustomize/rbac/role.yaml",
    "kustomize/stage/volume/rbac/role.yaml",
    "kustomize/stage/volume/fast/storage-class.yaml",
)
#: Each deployable Python component's own locked project, by the name services refer to it with.
PYTHON_ENVS = {
    "mlflow": PROJECT_ROOT / "platform" / "runtimes" / "mlflow",
    "mlserver": PROJECT_ROOT / "platform" / "runtimes" / "mlserver",
    "streaming": PROJECT_ROOT / "streaming",
    "pipelines": PROJECT_ROOT / "pipelines",
    "promoter": PROJECT_ROOT / "pipelines" / "promoter",
    "fraud-detection": PROJECT_ROOT / "examples" / "fraud-detection",
}


@dataclass(frozen=True)
class Toolchain:
    """Paths of the installed tools; `locate` raises ToolMissing with the fix when one is absent."""

    settings: Settings

    # -- Kafka (Maven) -------------------------------------------------------------------------
    @property
    def kafka_home(self) -> Path:
        poms = sorted(KAFKA_RUNTIME.rglob("pom.xml"))
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in poms)).hexdigest()[:16]
        return self.settings.cache_dir / "kafka" / digest

    @property
    def kafka_classpath(self) -> str:
        return str(self.kafka_home / "lib" / "*")

    @property
    def kafka_plugins(self) -> Path:
        return self.kafka_home / "plugins"

    @property
    def jmx_agent(self) -> Path:
        return next((self.kafka_home / "lib").glob("jmx_prometheus_javaagent-*.jar"))

    # -- Go builds ------------------------------------------------------------------------------
    @property
    def minio(self) -> Path:
        return self.settings.cache_dir / "tools" / f"minio-{versions.MINIO_VERSION}" / "minio"

    @property
    def statsd_exporter(self) -> Path:
        version = versions.STATSD_EXPORTER_VERSION
        return self.settings.cache_dir / "tools" / f"statsd_exporter-{version}" / "statsd_exporter"

    @property
    def helm(self) -> Path:
        return self.settings.cache_dir / "tools" / f"helm-{versions.HELM_VERSION}" / "helm"

    # -- Local Kubernetes control plane -----------------------------------------------------------
    @property
    def kubernetes_dir(self) -> Path:
        return self.settings.cache_dir / "tools" / f"kubernetes-{versions.KUBERNETES_VERSION}"

    def kubernetes_binary(self, name: str) -> Path:
        """One of KUBERNETES_BINARIES."""
        return self.kubernetes_dir / name

    @property
    def kubectl(self) -> Path:
        return self.kubernetes_binary("kubectl")

    @property
    def kwok_dir(self) -> Path:
        return self.settings.cache_dir / "tools" / f"kwok-{versions.KWOK_VERSION}"

    @property
    def kwok(self) -> Path:
        return self.kwok_dir / "kwok"

    @property
    def kwok_stages(self) -> list[Path]:
        return [self.kwok_dir / "source" / name for name in KWOK_STAGE_FILES]

    @property
    def kwok_manifests(self) -> list[Path]:
        return [self.kwok_dir / "source" / name for name in KWOK_MANIFEST_FILES]

    def kubernetes_is_current(self) -> bool:
        """Whether the cached control plane was built from the go.mod and go.sum in this tree."""
        stamp = self.kubernetes_dir / KUBERNETES_STAMP
        return stamp.is_file() and stamp.read_text().strip() == kubernetes_source_digest()

    def check_cluster(self) -> None:
        """Raise ToolMissing naming what the local control plane lacks."""
        needed = {
            self.kubernetes_dir: [self.kubernetes_binary(name) for name in KUBERNETES_BINARIES],
            self.kwok_dir: [self.kwok, *self.kwok_stages, *self.kwok_manifests],
        }
        missing = [str(folder) for folder, files in needed.items() if not all(path.exists() for path in files)]
        if missing:
            raise ToolMissing(
                f"The local Kubernetes control plane's tools are missing or incomplete in {' and '.join(missing)}. "
                "Run `make setup`."
            )
        if not self.kubernetes_is_current():
            raise ToolMissing(
                f"The Kubernetes binaries in {self.kubernetes_dir} were built from another "
                f"{KUBERNETES_RUNTIME.relative_to(PROJECT_ROOT)}/go.mod or go.sum. Run `make setup` to rebuild them."
            )

    # -- Debian packages ------------------------------------------------------------------------
    @property
    def postgres_bin(self) -> Path:
        if self.settings.postgres.bin_dir:
            return self.settings.postgres.bin_dir
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_major_version)
        if found:
            return Path(found[-1]).parent
        which = shutil.which("postgres")
        if which:
            return Path(which).resolve().parent
        raise ToolMissing(
            "PostgreSQL's server is not installed. Run `make setup` (it installs the Debian package "
            "`postgresql`), or set MLP_POSTGRES__BIN_DIR to the folder holding `postgres` and `initdb`."
        )

    @property
    def prometheus(self) -> Path:
        return _which("prometheus", "prometheus")

    @property
    def promtool(self) -> Path:
        return _which("promtool", "prometheus")

    @property
    def java(self) -> Path:
        return _which("java", "openjdk-17-jre-headless")

    def python_env(self, name: str) -> Path:
        """The virtual environment of one of the platform's Python components."""
        return PYTHON_ENVS[name] / ".venv"

    def check(self) -> None:
        """Raise ToolMissing naming the first absent tool the local runtime needs."""
        needed = [
            self.kafka_home / "lib",
            self.minio,
            self.statsd_exporter,
            *(self.python_env(name) / "bin" for name in PYTHON_ENVS),
        ]
        missing = [str(path) for path in needed if not path.exists()]
        if missing:
            raise ToolMissing(f"Tools are missing ({', '.join(missing)}). Run `make setup` first.")
        _ = (self.postgres_bin, self.prometheus, self.java)


#: File in the Kubernetes tool folder holding the digest of the go.mod and go.sum it was built from.
KUBERNETES_STAMP = ".source-digest"


def kubernetes_source_digest() -> str:
    files = (KUBERNETES_RUNTIME / "go.mod", KUBERNETES_RUNTIME / "go.sum")
    return hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()[:16]


def _major_version(path: str) -> int:
    return int(Path(path).parts[4]) if Path(path).parts[4].isdigit() else 0


def _which(command: str, package: str) -> Path:
    found = shutil.which(command)
    if not found:
        raise ToolMissing(f"`{command}` is not installed. Run `make setup`, or install the Debian package `{package}`.")
    return Path(found)


# ---------------------------------------------------------------------------------------------
# Installation


class Installer:
    """Runs each setup step once; every step is skipped when its cached result is present."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tools = Toolchain(settings)
        self.log_dir = settings.cache_dir / "setup-logs"

    def install_all(self) -> None:
        started = time.monotonic()
        self.apt_packages()
        self.kafka()
        self.go_tool("minio", versions.MINIO_PACKAGE, versions.MINIO_VERSION, self.tools.minio)
        self.go_tool("helm", versions.HELM_PACKAGE, versions.HELM_VERSION, self.tools.helm)
        self.go_tool(
            "statsd_exporter",
            versions.STATSD_EXPORTER_PACKAGE,
            versions.STATSD_EXPORTER_VERSION,
            self.tools.statsd_exporter,
        )
        self.kubernetes()
        self.kwok()
        for name, project in PYTHON_ENVS.items():
            self.python_env(name, project)
        console.print(
            f"[green]Setup complete[/] in {time.monotonic() - started:.0f}s; tools in {self.settings.cache_dir}"
        )

    def apt_packages(self) -> None:
        wanted: list[str] = []
        try:
            _ = self.tools.postgres_bin
        except ToolMissing:
            wanted.append(versions.APT_PACKAGES["postgres"])
        for command in ("prometheus", "promtool"):
            if not shutil.which(command):
                wanted.append(versions.APT_PACKAGES["prometheus"])
        for command, package in (("java", "openjdk-17-jdk-headless"), ("mvn", "maven")):
            if not shutil.which(command):
                wanted.append(package)
        if not shutil.which("go"):
            raise ToolMissing(
                "Go is not installed. Install Go 1.24 or newer from go.dev (Debian's package is too old "
                "to build MinIO), put it on PATH, and run `make setup` again."
            )
        wanted = sorted(set(wanted))
        if not wanted:
            console.print("[green]✔[/] system packages present")
            return
        if os.geteuid() != 0:
            raise ToolMissing(
                "These Debian packages are needed and only root can install them:\n"
                f"  sudo apt-get update && sudo apt-get install -y {' '.join(wanted)}\n"
                "then run `make setup` again."
            )
        # Keep the packages' own services from starting: the platform runs its own instances.
        policy = Path("/usr/sbin/policy-rc.d")
        created = not policy.exists()
        if created:
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
        try:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            self._run("apt-update", ["apt-get", "update", "-q"], "apt-get update", env=env)
            self._run(
                "apt-install",
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", *wanted],
                f"installing {', '.join(wanted)}",
                env=env,
            )
        finally:
            if created:
                policy.unlink()

    def kafka(self) -> None:
        home = self.tools.kafka_home
        if (home / ".complete").exists():
            console.print(f"[green]✔[/] Kafka and Connect plugins cached ({home.name})")
            return
        staging = Path(tempfile.mkdtemp(prefix="kafka-", dir=self._ensure(home.parent)))
        self._maven(KAFKA_RUNTIME / "pom.xml", staging / "lib", "Kafka broker and Connect worker")
        for pom in sorted((KAFKA_RUNTIME / "plugins").glob("*/pom.xml")):
            plugin = pom.parent.name
            self._maven(pom, staging / "plugins" / plugin, f"Connect plugin {plugin}")
        (staging / ".complete").touch()
        shutil.rmtree(home, ignore_errors=True)
        staging.rename(home)
        for stale in home.parent.iterdir():  # earlier pins; a running platform keeps its open jars
            if stale != home:
                shutil.rmtree(stale, ignore_errors=True)

    def go_tool(self, name: str, package: str, version: str, target: Path) -> None:
        if target.exists():
            console.print(f"[green]✔[/] {name} {version} cached")
            return
        staging = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self._ensure(target.parent.parent)))
        env = {**os.environ, "GOBIN": str(staging), "GOFLAGS": "-buildvcs=false", "CGO_ENABLED": "0"}
        self._run(
            f"go-{name}",
            ["go", "install", f"{package}@{version}"],
            f"building {name} {version} (slow once)",
            env=env,
        )
        shutil.rmtree(target.parent, ignore_errors=True)
        staging.rename(target.parent)

    def kubernetes(self) -> None:
        """kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and etcd, from the pinned module.

        The folder is named by the Kubernetes version and stamped with the digest of go.mod and go.sum,
        so a change of either rebuilds it.
        """
        target, version = self.tools.kubernetes_dir, versions.KUBERNETES_VERSION
        if self.tools.kubernetes_is_current() and all(
            self.tools.kubernetes_binary(name).exists() for name in KUBERNETES_BINARIES
        ):
            console.print(f"[green]✔[/] Kubernetes {version} control plane and etcd cached")
            return
        major, minor = version.removeprefix("v").split(".")[:2]
        # Without these the binaries report v0.0.0 (the version is stamped by Kubernetes' own build).
        stamped = {"gitVersion": version, "gitMajor": major, "gitMinor": minor}
        ldflags = " ".join(f"-X k8s.io/component-base/version.{name}={value}" for name, value in stamped.items())
        staging = Path(tempfile.mkdtemp(prefix="kubernetes-", dir=self._ensure(target.parent)))
        env = {**os.environ, "GOBIN": str(staging), "GOFLAGS": "-buildvcs=false", "CGO_ENABLED": "0"}
        self._run(
            "go-kubernetes",
            ["go", "install", "-ldflags", ldflags, "tool"],
            f"building Kubernetes {version} and etcd (slow once)",
            env=env,
            cwd=KUBERNETES_RUNTIME,
        )
        (staging / "server").rename(staging / "etcd")
        (staging / KUBERNETES_STAMP).write_text(kubernetes_source_digest() + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)

    def kwok(self) -> None:
        """kwok, and its stage definitions and cluster objects from its own module source (same version)."""
        self.go_tool("kwok", versions.KWOK_PACKAGE, versions.KWOK_VERSION, self.tools.kwok)
        wanted = self.tools.kwok_stages + self.tools.kwok_manifests
        if all(path.exists() for path in wanted):
            return
        source = self._go_module_dir(versions.KWOK_MODULE, versions.KWOK_VERSION)
        for name in (*KWOK_STAGE_FILES, *KWOK_MANIFEST_FILES):
            if not (source / name).is_file():
                raise PlatformError(
                    f"kwok {versions.KWOK_VERSION} has no {name} (looked in {source}). If KWOK_VERSION in "
                    "versions.py changed, update KWOK_STAGE_FILES and KWOK_MANIFEST_FILES in tools.py to its layout."
                )
            copy = self.tools.kwok_dir / "source" / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, copy)  # the module cache's files are read-only; the copy is not
        console.print(f"[green]✔[/] kwok {versions.KWOK_VERSION} stages from {source}")

    def python_env(self, name: str, project: Path) -> None:
        uv = os.environ.get("UV") or shutil.which("uv")
        if not uv:
            raise ToolMissing("uv is not on PATH. Run `make setup`, which installs it.")
        # Bytecode compiled at install: a service or task process started where Python may not write its
        # cache (PYTHONDONTWRITEBYTECODE) would otherwise compile every module it imports, each time.
        self._run(
            f"env-{name}",
            [uv, "sync", "--locked", "--compile-bytecode", "--project", str(project)],
            f"Python environment for {name}",
        )

    # -- helpers ------------------------------------------------------------------------------
    def _maven(self, pom: Path, output: Path, what: str) -> None:
        self._run(
            f"maven-{pom.parent.name}",
            [
                "mvn",
                "-B",
                "-q",
                "--settings",
                str(KAFKA_RUNTIME / "maven-settings.xml"),
                "-f",
                str(pom),
                "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={output}",
            ],
            what,
        )

    def _go_module_dir(self, module: str, version: str) -> Path:
        """The folder of a module's source in the Go module cache, downloaded if absent."""
        with tempfile.TemporaryDirectory() as outside_any_module:
            result = subprocess.run(
                ["go", "mod", "download", "-json", f"{module}@{version}"],
                cwd=outside_any_module,
                capture_output=True,
                text=True,
                check=False,
            )
        if result.returncode != 0:
            raise PlatformError(
                f"`go mod download {module}@{version}` failed (exit {result.returncode}); check access to the "
                f"Go module proxy (GOPROXY):\n{result.stderr or result.stdout}"
            )
        return Path(json.loads(result.stdout)["Dir"])

    def _run(
        self,
        step: str,
        argv: Sequence[str],
        what: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        log = self._ensure(self.log_dir) / f"{step}.log"
        started = time.monotonic()
        with console.status(f"{what}…"), log.open("w") as handle:
            result = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=cwd, check=False)
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise PlatformError(f"{what} failed (exit {result.returncode}); full log: {log}\n{tail}")
        console.print(f"[green]✔[/] {what} ({time.monotonic() - started:.0f}s)")

    @staticmethod
    def _ensure(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path
