"""The images of our own workloads: which Dockerfile builds each, and `make images`, which builds them.

The chart's render is the one list of image references (`render.py`'s image walk, also behind `make
vendor`); a Dockerfile says which repository it builds with the label `io.mlplatform.image` (e.g.
`LABEL io.mlplatform.image="mlplatform/airflow"`), so no table maps images to Dockerfiles by hand. An image
of ours is one whose repository is `mlplatform/...` (at ghcr.io, or at the profile's registry) or carries
a Dockerfile's label, less what an operator builds in the cluster (Strimzi's Kafka Connect image).

- `list --profile P` prints `<image> <Dockerfile> <context>` for each image of ours that P's render names.
- `build --profile P [--builder B] [--push]` builds each with docker, podman or buildah (the first found,
  in that order, unless `--builder` names one), tagged exactly as the render names it, then pushes them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import render
from dockerfile_parse import DockerfileParser

ROOT = render.ROOT
LABEL = "io.mlplatform.image"
OWN_NAMESPACE = "mlplatform/"
BUILDERS = ("docker", "podman", "buildah")
INSTALL_HINT = (
    "Install one of docker (Docker Engine: https://docs.docker.com/engine/install/; its daemon must be "
    "running, e.g. `sudo systemctl start docker`), podman (`apt-get install podman`, "
    "https://podman.io/docs/installation) or buildah (`apt-get install buildah`, "
    "https://github.com/containers/buildah/blob/main/install.md), or name a docker-compatible command with "
    "BUILDER=<command>."
)
# Folders never searched for Dockerfiles: environments, caches and build output.
SKIP_DIRS = {"node_modules", "__pycache__"}


class ImageError(Exception):
    """The images cannot be listed or built; the message says why and what to do."""


# -- Dockerfiles -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int

    def exec_form(self) -> list[str]:
        """Arguments of RUN/CMD/ENTRYPOINT as the argv Docker runs (shell form under /bin/sh -c)."""
        if self.arguments.startswith("["):
            parsed = json.loads(self.arguments)
            return [str(part) for part in parsed]
        return ["/bin/sh", "-c", self.arguments]

    def options_and_words(self) -> tuple[dict[str, str], list[str]]:
        """`--name=value` options and the remaining words of COPY/ADD (JSON form included)."""
        words = json.loads(self.arguments) if self.arguments.startswith("[") else shlex.split(self.arguments)
        options: dict[str, str] = {}
        while words and words[0].startswith("--"):
            name, _, value = words.pop(0)[2:].partition("=")
            options[name] = value
        if words and words[0].startswith("["):  # options before a JSON form: COPY --chown=x ["a", "b"]
            words = json.loads(" ".join(words))
        return options, [str(word) for word in words]


@dataclass(frozen=True)
class Dockerfile:
    path: Path

    @cached_property
    def parsed(self) -> DockerfileParser:
        """The file read once, as Docker reads it (continuations joined, stages, labels)."""
        return DockerfileParser(fileobj=io.BytesIO(self.path.read_bytes()))

    @cached_property
    def instructions(self) -> list[Instruction]:
        """Its instructions in order, comments dropped."""
        return [
            Instruction(item["instruction"].upper(), item["value"].strip(), item["startline"] + 1)
            for item in self.parsed.structure
            if item["instruction"] != "COMMENT"
        ]

    @property
    def context(self) -> Path:
        """The build context: the Dockerfile's folder (the component it packages)."""
        return self.path.parent

    @property
    def final_stage(self) -> list[Instruction]:
        """Instructions of the stage that becomes the image (after the last FROM)."""
        starts = [i for i, ins in enumerate(self.instructions) if ins.keyword == "FROM"]
        return self.instructions[starts[-1] + 1 :] if starts else []

    def labels(self) -> dict[str, str]:
        """Labels of the image (final stage)."""
        return dict(self.parsed.labels)

    @property
    def image(self) -> str | None:
        """The repository this Dockerfile builds (its `io.mlplatform.image` label), if any."""
        return self.labels().get(LABEL)

    def last(self, keyword: str) -> Instruction | None:
        matches = [ins for ins in self.final_stage if ins.keyword == keyword]
        return matches[-1] if matches else None

    def command(self) -> list[str]:
        """What a container of the image runs when nothing overrides it: ENTRYPOINT, then CMD."""
        entrypoint, cmd = self.last("ENTRYPOINT"), self.last("CMD")
        return (entrypoint.exec_form() if entrypoint else []) + (cmd.exec_form() if cmd else [])

    def relative(self) -> str:
        return str(self.path.relative_to(ROOT))


def dockerfiles(root: Path = ROOT) -> Iterator[Dockerfile]:
    """Every file named Dockerfile in the repository, outside hidden folders (.venv, .git, caches)."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in SKIP_DIRS)
        if "Dockerfile" in files:
            yield Dockerfile(Path(folder) / "Dockerfile")


def labelled(root: Path = ROOT) -> dict[str, Dockerfile]:
    """Repository -> the Dockerfile whose `io.mlplatform.image` label names it."""
    found: dict[str, Dockerfile] = {}
    for dockerfile in dockerfiles(root):
        image = dockerfile.image
        if image is None:
            continue
        if image in found:
            raise ImageError(
                f"{found[image].relative()} and {dockerfile.relative()} both carry {LABEL}={image!r}: "
                "give each Dockerfile the repository it builds"
            )
        found[image] = dockerfile
    return found


# -- images of the render ----------------------------------------------------------------------------


def split_reference(ref: str) -> tuple[str, str]:
    """(registry, repository) of an image reference: `ghcr.io/mlplatform/airflow:0.1.0` gives
    (`ghcr.io`, `mlplatform/airflow`); a reference without a registry host is Docker Hub's."""
    name = ref.split("@", 1)[0]
    first, slash, rest = name.partition("/")
    registry = "docker.io"
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, name = first, rest
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name = name[:colon]
    return registry, name


def repository(ref: str) -> str:
    return split_reference(ref)[1]


def rendered_images(profiles: list[str]) -> tuple[set[str], set[str]]:
    """(every image both releases make a cluster pull, those of them an operator builds in the cluster)."""
    pulled: set[str] = set()
    built: set[str] = set()
    for doc in render.release_documents(profiles):
        pulled.update(render.images_in(doc))
        built.update(render.built_in_cluster(doc))
    return pulled, built


def is_own(ref: str, labels: Iterable[str]) -> bool:
    name = repository(ref)
    return name.startswith(OWN_NAMESPACE) or name in set(labels)


@dataclass(frozen=True)
class OwnImage:
    ref: str
    dockerfile: Dockerfile


def own_images(profiles: list[str]) -> list[OwnImage]:
    """Each image of ours the render of `profiles` names, with the Dockerfile that builds it."""
    missing = [d["name"] for chart in render.CHART_OF.values() for d in render.missing_archives(chart)]
    if missing:
        raise ImageError(
            f"dependency archives absent ({', '.join(missing)}), so the render lacks their images "
            "(our Airflow image among them): run `make chart-deps`"
        )
    by_repository = labelled()
    pulled, built = rendered_images(profiles)
    ours = sorted(ref for ref in pulled - built if is_own(ref, by_repository))
    unbuildable = [ref for ref in ours if repository(ref) not in by_repository]
    if unbuildable:
        raise ImageError(
            "the render names images of ours that no Dockerfile builds: "
            + ", ".join(f'{ref} (add LABEL {LABEL}="{repository(ref)}" to its Dockerfile)' for ref in unbuildable)
        )
    return [OwnImage(ref, by_repository[repository(ref)]) for ref in ours]


def unnamed(images: list[OwnImage]) -> list[Dockerfile]:
    """Labelled Dockerfiles whose repository the render does not name (so there is no tag to build)."""
    named = {repository(image.ref) for image in images}
    return [dockerfile for name, dockerfile in sorted(labelled().items()) if name not in named]


# -- building ----------------------------------------------------------------------------------------


def fault(builder: str) -> str | None:
    """Why `builder` cannot build here (`<builder> info` fails: e.g. a docker CLI without a reachable
    daemon), or None when it can."""
    try:
        result = subprocess.run([builder, "info"], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if result.returncode == 0:
        return None
    said = (result.stderr.strip() or result.stdout.strip()).splitlines()
    return f"`{Path(builder).name} info` failed: {said[-1] if said else f'exit status {result.returncode}'}"


def find_builder(requested: str | None) -> str:
    """The builder command that works here: `requested` (a name on PATH or a path), else the first of
    docker, podman and buildah that is installed and answers `info`."""
    problems = []
    for name in [requested] if requested else BUILDERS:
        found = shutil.which(name)
        if not found:
            problems.append(f"{name}: not on PATH")
            continue
        reason = fault(found)
        if reason is None:
            return found
        problems.append(f"{name} ({found}): {reason}")
    what = f"BUILDER={requested} cannot build" if requested else "no working OCI image builder"
    listed = "".join(f"\n  {problem}" for problem in problems)
    raise ImageError(f"{what}, so nothing was built:{listed}\n{INSTALL_HINT}")


def build_commands(builder: str, images: list[OwnImage], push: bool) -> list[list[str]]:
    """One build per Dockerfile with every tag the render gives it (docker/podman `build`, buildah
    `bud`; paths relative to the repository root), then, with `push`, one push per tag."""
    tags: dict[Dockerfile, list[str]] = {}
    for image in images:
        tags.setdefault(image.dockerfile, []).append(image.ref)
    verb = "bud" if Path(builder).name == "buildah" else "build"
    commands = []
    for dockerfile, refs in tags.items():
        tag_args = [arg for ref in refs for arg in ("-t", ref)]
        context = str(dockerfile.context.relative_to(ROOT))
        commands.append([builder, verb, *tag_args, "-f", dockerfile.relative(), context])
    if push:
        commands += [[builder, "push", image.ref] for image in images]
    return commands


def describe(images: list[OwnImage], profiles: list[str]) -> str:
    lines = [f"Images of ours in the render of profile {','.join(profiles)} (image, Dockerfile, context):"]
    for image in images:
        context = image.dockerfile.context.relative_to(ROOT)
        lines.append(f"  {image.ref}  {image.dockerfile.relative()}  {context}/")
    return "\n".join(lines)


def build(profiles: list[str], builder: str | None, push: bool) -> None:
    images = own_images(profiles)
    print(describe(images, profiles), flush=True)
    for dockerfile in unnamed(images):
        print(f"note: {dockerfile.relative()} ({dockerfile.image}) is not in this render; not built", file=sys.stderr)
    if not images:
        raise ImageError(f"the render of profile {','.join(profiles)} names no image of ours")
    command = find_builder(builder)
    for argv in build_commands(command, images, push):
        print("+ " + shlex.join([Path(argv[0]).name, *argv[1:]]), flush=True)
        if subprocess.run(argv, cwd=ROOT, check=False).returncode != 0:
            raise ImageError(f"`{shlex.join(argv)}` failed (its output is above)")
    print(f"Built{' and pushed' if push else ''} {len(images)} image(s) with {Path(command).name}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["list", "build"])
    parser.add_argument("--profile", default="dev", help="comma-separated profiles, applied in order")
    parser.add_argument("--builder", default=None, help="docker, podman, buildah or a docker-compatible command")
    parser.add_argument("--push", action="store_true", help="push every image after building them all")
    args = parser.parse_args()
    profiles = [p for p in args.profile.split(",") if p]
    if args.action == "list":
        for image in own_images(profiles):
            print(image.ref, image.dockerfile.relative(), image.dockerfile.context.relative_to(ROOT))
    else:
        build(profiles, args.builder, args.push)


if __name__ == "__main__":
    try:
        main()
    except (ImageError, render.RenderError) as error:
        sys.exit(f"error: {error}")
