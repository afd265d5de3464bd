"""A small client of Kafka Connect's REST API, local or in a cluster (basic auth, TLS).

Connect answers 409 while its workers rebalance, and a worker may be restarting: both are retried
with exponential backoff (tenacity); any other error is raised at once with Connect's message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import httpx
from pydantic import SecretStr
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from mlplatform.errors import PlatformError


class ConnectError(PlatformError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _retryable(error: BaseException) -> bool:
    if isinstance(error, httpx.TransportError):
        return True
    return isinstance(error, ConnectError) and error.status in (409, 503)


class ConnectClient:
    def __init__(
        self,
        url: str,
        username: str | None = None,
        password: SecretStr | None = None,
        ca_cert: Path | None = None,
        insecure: bool = False,
        retry_seconds: float = 60.0,
    ) -> None:
        auth = httpx.BasicAuth(username, password.get_secret_value()) if username and password else None
        verify: bool | str = False if insecure else (str(ca_cert) if ca_cert else True)
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, auth=auth, verify=verify, timeout=30.0)
        self._retry_seconds = retry_seconds

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_delay(self._retry_seconds),
            wait=wait_exponential(multiplier=0.25, max=5),
            reraise=True,
        )
        try:
            return retrying(self._send, method, path, **kwargs)
        except httpx.TransportError as error:
            raise ConnectError(
                f"Cannot reach Kafka Connect at {self.url} ({error}). Is it running (`mlp status`), or is --url right?"
            ) from error

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise ConnectError(f"{method} {path}: HTTP {response.status_code}: {message}", response.status_code)
        return response.json() if response.content else None

    # -- the API --------------------------------------------------------------------------------
    def connectors(self) -> list[str]:
        return sorted(cast(list[str], self._request("GET", "/connectors")))

    def expanded(self) -> dict[str, dict[str, Any]]:
        """Every connector's config (`info`) and state (`status`) in one request, by name."""
        found = self._request("GET", "/connectors", params=[("expand", "info"), ("expand", "status")])
        return cast(dict[str, dict[str, Any]], found)

    def status(self, name: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._request("GET", f"/connectors/{name}/status"))

    def validate(self, connector_class: str, config: dict[str, str]) -> dict[str, Any]:
        path = f"/connector-plugins/{connector_class}/config/validate"
        return cast(dict[str, Any], self._request("PUT", path, json=config))

    def put_config(self, name: str, config: dict[str, str]) -> None:
        self._request("PUT", f"/connectors/{name}/config", json=config)

    def delete(self, name: str) -> None:
        self._request("DELETE", f"/connectors/{name}")

    def restart(self, name: str, only_failed: bool) -> None:
        params = {"includeTasks": "true", "onlyFailed": "true" if only_failed else "false"}
        self._request("POST", f"/connectors/{name}/restart", params=params)
