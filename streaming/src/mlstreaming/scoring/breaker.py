"""A circuit breaker around model calls (purgatory): after repeated failed batches, stop calling for a while.

While open, batches fail at once with reason `circuit_open` instead of waiting for timeouts, which keeps the
processor responsive and gives a struggling server room; after `reset_seconds` one trial call decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from mlstreaming.scoring.client import ModelCallError, ModelRequestRejected

T = TypeVar("T")


class CircuitOpen(ModelCallError):
    retryable = False

    def __init__(self, name: str) -> None:
        super().__init__("circuit_open", f"circuit breaker {name} is open")


class ModelBreaker:
    def __init__(
        self, name: str, threshold: int, reset_seconds: float, on_change: Callable[[bool], None] | None = None
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self.is_open = False
        self._on_change = on_change
        # A rejected request says nothing about the server's health, so it does not count as a failure.
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=reset_seconds, exclude=[ModelRequestRejected]
        )
        self._factory.add_listener(self._hook)

    def _hook(self, name: str, event_name: str, event: Any) -> None:
        if event_name == "state_changed":
            self.is_open = event.state == "opened"
            if self._on_change:
                self._on_change(self.is_open)

    async def call(self, fun: Callable[[], Awaitable[T]]) -> T:
        """`fun()` through the breaker; CircuitOpen without calling it while the circuit is open."""
        breaker = await self._factory.get_breaker(self.name)
        try:
            async with breaker:
                return await fun()
        except OpenedState:
            raise CircuitOpen(self.name) from None
