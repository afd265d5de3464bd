"""Starts kwok's play of the operators' status (operator-status.yaml) once their CRDs are served.

kwok exits at start when a stage names a resource the API server does not serve, and the operators'
CRDs only arrive with `make install` (chart-crds). So the `operators` component runs this module, which
waits for every API group its stages name, then becomes kwok (exec). supervisord owns the process
either way.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml
from tenacity import retry, retry_if_result, wait_fixed

from mlplatform.cluster.api import tls_get
from mlplatform.cluster.layout import ClusterLayout
from mlplatform.cluster.pki import Pki
from mlplatform.config import Settings

STAGES = Path(__file__).with_name("operator-status.yaml")


def api_versions(stages: Path = STAGES) -> list[str]:
    """The group/version of every resource the stages play, e.g. `kafka.strimzi.io/v1`."""
    docs = [d for d in yaml.safe_load_all(stages.read_text()) if d]
    return sorted({d["spec"]["resourceRef"]["apiGroup"] for d in docs})


def served(layout: ClusterLayout, versions: list[str]) -> bool:
    pki = Pki(layout)
    client = (pki.cert("kwok"), pki.key("kwok"))
    for version in versions:
        response = tls_get(f"{layout.server}/apis/{version}", pki.ca_cert, client)
        if response is None or response.status_code != 200:
            return False
    return True


@retry(wait=wait_fixed(2), retry=retry_if_result(lambda ready: not ready))
def wait_until_served(layout: ClusterLayout, versions: list[str]) -> bool:
    return served(layout, versions)


def main() -> None:
    """`python -m mlplatform.cluster.operators KWOK [KWOK'S ARGUMENTS…]`"""
    versions = api_versions()
    print(f"waiting for the operators' APIs to be served: {', '.join(versions)}", flush=True)
    wait_until_served(ClusterLayout(Settings()), versions)
    print("served; starting kwok with the operators' stages", flush=True)
    os.execv(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
