"""One way to wait for something in the platform's code: poll a check until it says done, on tenacity.

Why it exists: the platform waits on services, supervisord, Airflow runs, connectors and metrics. Each of
those waits was its own `while`/`sleep` loop with its own deadline arithmetic. Here a wait is a check, a test
of its result, an interval and a timeout; the caller keeps its own message for when time runs out. A check
that sees a failure raises it, and that ends the wait at once (tenacity retries on the result only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_fixed

T = TypeVar("T")


def poll(
    check: Callable[[], T],
    *,
    until: Callable[[T], bool] = bool,
    timeout: float,
    interval: float,
    error: Callable[[T], Exception] | None = None,
) -> T:
    """Call `check` every `interval` seconds until `until(result)` holds, and return that result.

    After `timeout` seconds, raise `error(last result)`; without `error`, return the last result (a wait that
    settles for what it has). An exception raised by `check` is not retried: it ends the wait.
    """

    def expired(state: RetryCallState) -> T:
        assert state.outcome is not None  # tenacity calls this only after an attempt
        last: T = state.outcome.result()
        if error is not None:
            raise error(last)
        return last

    retrying = Retrying(
        retry=retry_if_result(lambda result: not until(result)),
        stop=stop_after_delay(max(timeout, 0.0)),
        wait=wait_fixed(interval),
        retry_error_callback=expired,
    )
    return retrying(check)
