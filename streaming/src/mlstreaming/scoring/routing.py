"""Which model version scores which event: the champion, or during a canary the canary for a sticky share of accounts.

The split is the registry's: the `champion` alias names the stable version, and a canary in progress is the
`challenger` alias whose version the promoter tagged `mlp.promotion.decision=canary` with its
`mlp.promotion.canary_traffic` percent. It is read from MLflow's REST API every few seconds, so a promotion,
a finalize or a rollback reaches the processor without a restart, on the laptop as in the cluster.

The split is sticky per entity: an account hashes to one of 100 buckets, and the lowest `canary_traffic`
buckets go to the canary. One account's events therefore reach one version for the whole canary, which keeps
per-account features and decisions consistent and makes the two versions' traffic comparable populations.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"
TAG = "mlp.promotion."
BUCKETS = 100


def bucket(entity: str) -> int:
    """A stable bucket in [0, 100) for an entity key, the same in every process and on every run."""
    digest = hashlib.blake2b(entity.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


@dataclass(frozen=True)
class Split:
    """The versions serving now; `champion` None: nothing known yet, the server's default version answers."""

    champion: str | None = None
    canary: str | None = None
    canary_traffic: int = 0

    def version_for(self, entity: str) -> str | None:
        if self.canary and self.canary_traffic and bucket(entity) < self.canary_traffic:
            return self.canary
        return self.champion

    def describe(self) -> str:
        if self.champion is None:
            return "no champion known: unversioned calls"
        if self.canary:
            share = self.canary_traffic
            return f"champion {self.champion} ({100 - share}%), canary {self.canary} ({share}%)"
        return f"champion {self.champion} (100%)"


class SplitSource:
    """Reads the split of one registered model from MLflow (`refresh` keeps the last split when MLflow fails)."""

    def __init__(self, mlflow_url: str, model_name: str, timeout: float = 5.0) -> None:
        self.api = f"{mlflow_url.rstrip('/')}/api/2.0/mlflow"
        self.model_name = model_name
        self.split = Split()
        #: False until the first read was tried: the first batch waits for it rather than guess the version.
        self.read = False
        self._http = httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def refresh(self) -> Split:
        self.read = True
        try:
            found = await self._read()
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            log.warning(
                "reading the version split of %s from MLflow failed (%s); keeping %s",
                self.model_name,
                exc,
                self.split.describe(),
            )
            return self.split
        if found != self.split:
            log.info("version split of %s: %s", self.model_name, found.describe())
            self.split = found
        return self.split

    async def _read(self) -> Split:
        response = await self._http.get(f"{self.api}/registered-models/get", params={"name": self.model_name})
        if response.status_code == 404:
            return Split()  # not registered yet
        response.raise_for_status()
        aliases = {a["alias"]: a["version"] for a in response.json()["registered_model"].get("aliases", [])}
        champion, challenger = aliases.get(CHAMPION), aliases.get(CHALLENGER)
        if champion is None or challenger is None or challenger == champion:
            return Split(champion)
        response = await self._http.get(
            f"{self.api}/model-versions/get", params={"name": self.model_name, "version": challenger}
        )
        response.raise_for_status()
        tags = {t["key"]: t["value"] for t in response.json()["model_version"].get("tags", [])}
        if tags.get(f"{TAG}decision") != "canary":
            return Split(champion)  # a rollout in progress is not live traffic's business until it is a canary
        return Split(champion, challenger, int(tags.get(f"{TAG}canary_traffic", "0")))
