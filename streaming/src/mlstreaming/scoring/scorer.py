"""Scoring one micro-batch: request id, retries with backoff (tenacity) inside the breaker, metrics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from mlstreaming.metrics import BATCH_SIZE, BREAKER_OPEN, ERRORS, MODEL_CALL_SECONDS
from mlstreaming.scoring.breaker import CircuitOpen, ModelBreaker
from mlstreaming.scoring.client import Inference, ModelCallError, V2Client

REQUEST_NAMESPACE = uuid.UUID("4c1f7c52-4c54-4a8e-9a0e-2b1d5e1f3a77")
# The model-call histogram's `version` when no version answered (the call failed before a response).
NO_VERSION = "none"


def request_id(vector_ids: Sequence[str]) -> str:
    """Deterministic per batch: a replayed batch sends the same id, so the prediction log can spot repeats."""
    return str(uuid.uuid5(REQUEST_NAMESPACE, "\n".join(vector_ids)))


class Scorer:
    def __init__(
        self,
        client: V2Client,
        *,
        processor: str,
        attempts: int,
        backoff_seconds: float,
        breaker_threshold: int,
        breaker_reset_seconds: float,
    ) -> None:
        self.client = client
        self.processor = processor
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        model = client.model_name
        self.breaker = ModelBreaker(
            f"model:{model}",
            breaker_threshold,
            breaker_reset_seconds,
            on_change=lambda is_open: BREAKER_OPEN.labels(processor, model).set(int(is_open)),
        )
        BREAKER_OPEN.labels(processor, model).set(0)

    async def score(
        self,
        vector_ids: Sequence[str],
        columns: Sequence[str],
        rows: Sequence[Sequence[float]],
        version: str | None = None,
    ) -> Inference:
        """Predictions for `rows` (from `version`, or the server's default), or ModelCallError (CircuitOpen while
        the breaker is open)."""
        rid = request_id(vector_ids)
        BATCH_SIZE.labels(self.processor, self.client.model_name).observe(len(rows))
        try:
            return await self.breaker.call(lambda: self._with_retries(rid, columns, rows, version))
        except CircuitOpen:
            ERRORS.labels(self.processor, "circuit_open").inc()
            raise

    async def try_canary(
        self, vector_ids: Sequence[str], columns: Sequence[str], rows: Sequence[Sequence[float]], version: str
    ) -> Inference:
        """One call to a canary, outside the breaker and without retries: a failing canary is the judge's to
        see (its calls are counted under its version), and the caller falls back to the champion at once."""
        BATCH_SIZE.labels(self.processor, self.client.model_name).observe(len(rows))
        return await self._timed(request_id(vector_ids), columns, rows, version)

    async def _with_retries(
        self, rid: str, columns: Sequence[str], rows: Sequence[Sequence[float]], version: str | None
    ) -> Inference:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff_seconds, max=5),
            retry=retry_if_exception(lambda exc: isinstance(exc, ModelCallError) and exc.retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._timed(rid, columns, rows, version)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _timed(
        self, rid: str, columns: Sequence[str], rows: Sequence[Sequence[float]], target: str | None
    ) -> Inference:
        """One call; its duration is recorded under the version it was sent to (else the one that answered)."""
        started = time.perf_counter()
        outcome, version = "ok", target or NO_VERSION
        try:
            inference = await self.client.infer(rid, columns, rows, target)
            version = target or inference.model_version or NO_VERSION
            return inference
        except ModelCallError as exc:
            outcome = exc.reason
            ERRORS.labels(self.processor, exc.reason).inc()
            raise
        finally:
            MODEL_CALL_SECONDS.labels(self.processor, self.client.model_name, version, outcome).observe(
                time.perf_counter() - started
            )
