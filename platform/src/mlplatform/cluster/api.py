"""Talking to the local control plane: TLS probes of its components, and kubectl as its administrator.

Probes read a few JSON documents over HTTPS with the cluster's own CA and client certificates; all
changes go through the real kubectl, so objects are applied exactly as a user would apply them.
"""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from mlplatform.cluster.layout import PROXY_VARIABLES, ClusterLayout
from mlplatform.cluster.pki import Pki
from mlplatform.errors import PlatformError
from mlplatform.tools import Toolchain


def tls_get(url: str, ca: Path, cert: tuple[Path, Path] | None = None, timeout: float = 2.0) -> httpx.Response | None:
    """GET over HTTPS, verifying the server against `ca`; None when nothing answers."""
    try:
        context = ssl.create_default_context(cafile=str(ca))
        if cert:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        # trust_env=False: a proxy from the environment must never see loopback traffic.
        with httpx.Client(verify=context, timeout=timeout, trust_env=False) as client:
            return client.get(url)
    except (httpx.HTTPError, OSError, ssl.SSLError):
        return None


class ClusterApi:
    """The API server as the administrator."""

    def __init__(self, layout: ClusterLayout) -> None:
        self.layout = layout
        self.pki = Pki(layout)

    def get(self, path: str) -> Any | None:
        """The JSON at `path`, or None when it is absent or the server does not answer."""
        response = tls_get(self.layout.server + path, self.pki.ca_cert, (self.pki.cert("admin"), self.pki.key("admin")))
        if response is None or response.status_code != 200:
            return None
        return response.json()

    def version(self) -> str | None:
        found = self.get("/version")
        return str(found["gitVersion"]) if found else None

    def ready_nodes(self) -> dict[str, bool]:
        """Each node's name and whether its Ready condition is True."""
        found = self.get("/api/v1/nodes")
        result = {}
        for node in (found or {}).get("items", []):
            conditions = node.get("status", {}).get("conditions", [])
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            result[node["metadata"]["name"]] = ready
        return result


def kubectl(
    layout: ClusterLayout, args: Sequence[str], stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run kubectl against the local control plane as its administrator."""
    env = {key: value for key, value in os.environ.items() if key not in PROXY_VARIABLES}
    env.update(layout.client_environment())
    result = subprocess.run(
        [str(Toolchain(layout.settings).kubectl), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise PlatformError(
            f"kubectl {' '.join(args)} failed (exit {result.returncode}): {result.stderr.strip() or result.stdout}\n"
            f"The control plane's logs are in {layout.logs}; `mlp cluster status` shows each component."
        )
    return result
