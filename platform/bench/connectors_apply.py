"""Benchmark: `mlp connectors apply` of 50 definitions, first run against a no-op rerun.

The no-op rerun is the baseline: it reads every connector's config and state once, diffs, and changes
nothing (unchanged definitions need no validation), so the ratio shows what validating, creating and
waiting for tasks costs on top of that; the no-op itself should stay under NO_OP_TARGET.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from bench.isolated import MLP, isolated_platform

COUNT = 50
#: Seconds a no-op apply of COUNT definitions may take: a process start and one read of Connect.
NO_OP_TARGET = 1.0


def write_definitions(folder: Path, data: Path) -> None:
    for index in range(COUNT):
        source = data / f"source-{index}.txt"
        source.write_text("")
        definition = {
            "name": f"bench-source-{index:02d}",
            "class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "config": {"file": str(source), "topic": f"bench_{index:02d}"},
        }
        (folder / f"bench-{index:02d}.yaml").write_text(yaml.safe_dump(definition))


def timed_apply(folder: Path) -> float:
    started = time.perf_counter()
    subprocess.run([MLP, "connectors", "apply", "--dir", str(folder), "--json"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    with isolated_platform("kafka", "connect") as settings, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_definitions(folder, settings.home)
        first = timed_apply(folder)
        rerun = timed_apply(folder)
    print(f"connectors apply, {COUNT} definitions: first run {first:.2f}s, no-op rerun {rerun:.2f}s")
    print(f"connectors apply ratio (first / no-op rerun): {first / rerun:.2f}")
    print(f"connectors no-op apply target (< {NO_OP_TARGET:.0f}s): {'met' if rerun < NO_OP_TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
