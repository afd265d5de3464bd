"""A client of the V2 (Open Inference) protocol that MLServer and Seldon speak: one request per micro-batch.

Inputs are sent as named FP64 columns with the pandas content type, which MLServer's MLflow runtime decodes
into a DataFrame with those column names, as the model was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx


class ModelCallError(Exception):
    """A failed inference; `reason` is a stable code, `retryable` says whether trying again may help."""

    retryable = True

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ModelRequestRejected(ModelCallError):
    """The server refused this request (4xx) or answered nonsense: not an outage, so no retry."""

    retryable = False


@dataclass(frozen=True)
class Inference:
    request_id: str
    model_name: str
    model_version: str | None
    predictions: list[Any]


VERSION_URL = "{model_url}/v2/models/{model}/versions/{version}/infer"


class V2Client:
    """POST {base}/v2/models/{name}/infer (or one version's URL) with an `id` the server echoes back."""

    def __init__(
        self,
        base_url: str,
        model_name: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        version_url: str = VERSION_URL,
    ) -> None:
        self.model_name = model_name
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/v2/models/{model_name}/infer"
        self.version_url = version_url
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    def url_of(self, version: str | None) -> str:
        """Where one version answers (the template `version_url`); the server's default version for None."""
        if version is None:
            return self.url
        return self.version_url.format(model_url=self.base_url, model=self.model_name, version=version)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def infer(
        self, request_id: str, columns: Sequence[str], rows: Sequence[Sequence[float]], version: str | None = None
    ) -> Inference:
        body = {
            "id": request_id,
            "parameters": {"content_type": "pd"},
            "inputs": [
                {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": [row[i] for row in rows]}
                for i, name in enumerate(columns)
            ],
        }
        url = self.url_of(version)
        try:
            response = await self._http.post(url, json=body)
        except httpx.TimeoutException as exc:
            raise ModelCallError("model_timeout", type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise ModelCallError("model_unreachable", type(exc).__name__) from None
        if response.status_code >= 500:
            raise ModelCallError("model_server_error", f"HTTP {response.status_code}")
        if response.status_code == 404:  # nothing served under this name yet: an outage, not a bad request
            raise ModelCallError(
                "model_not_served",
                f"{url} answered 404: no model {self.model_name!r}"
                f"{f' version {version}' if version else ''} is served (promote one, or set MLP_STREAMING__MODEL_NAME)",
            )
        if response.status_code >= 400:
            raise ModelRequestRejected("model_request_rejected", f"HTTP {response.status_code}: {_error(response)}")
        return self._parse(request_id, len(rows), response, version)

    def _parse(self, request_id: str, count: int, response: httpx.Response, version: str | None) -> Inference:
        try:
            body = response.json()
            output = body["outputs"][0]
            data = list(output["data"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise ModelRequestRejected("model_bad_response", "no outputs[0].data in the response") from None
        if body.get("id") != request_id:
            raise ModelRequestRejected("request_id_mismatch", f"sent {request_id}, server answered {body.get('id')!r}")
        if count == 0 or len(data) % count:
            raise ModelRequestRejected("model_bad_response", f"{len(data)} output values for {count} rows")
        width = len(data) // count
        predictions = data if width == 1 else [data[i * width : (i + 1) * width] for i in range(count)]
        answered = body.get("model_version") or version
        return Inference(request_id, body.get("model_name") or self.model_name, answered, predictions)


def _error(response: httpx.Response) -> str:
    """The server's own message (MLServer's `{"error": ...}`, which names the inputs at fault), else the body."""
    try:
        message = response.json().get("error")
    except (ValueError, AttributeError):
        message = None
    return str(message or response.text)[:1000]
