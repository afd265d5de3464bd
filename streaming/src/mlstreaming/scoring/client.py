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


class V2Client:
    """POST {base}/v2/models/{name}/infer with an `id` the server echoes back."""

    def __init__(
        self, base_url: str, model_name: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.model_name = model_name
        self.url = f"{base_url.rstrip('/')}/v2/models/{model_name}/infer"
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def infer(self, request_id: str, columns: Sequence[str], rows: Sequence[Sequence[float]]) -> Inference:
        body = {
            "id": request_id,
            "parameters": {"content_type": "pd"},
            "inputs": [
                {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": [row[i] for row in rows]}
                for i, name in enumerate(columns)
            ],
        }
        try:
            response = await self._http.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise ModelCallError("model_timeout", type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise ModelCallError("model_unreachable", type(exc).__name__) from None
        if response.status_code >= 500:
            raise ModelCallError("model_server_error", f"HTTP {response.status_code}")
        if response.status_code == 404:  # nothing served under this name yet: an outage, not a bad request
            raise ModelCallError(
                "model_not_served",
                f"{self.url} answered 404: no model {self.model_name!r} is served (promote one, or set "
                "MLP_STREAMING__MODEL_NAME)",
            )
        if response.status_code >= 400:
            raise ModelRequestRejected("model_request_rejected", f"HTTP {response.status_code}: {response.text[:300]}")
        return self._parse(request_id, len(rows), response)

    def _parse(self, request_id: str, count: int, response: httpx.Response) -> Inference:
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
        return Inference(request_id, body.get("model_name") or self.model_name, body.get("model_version"), predictions)
