"""The local Airflow's REST API (v2): trigger a DAG run, follow it, read a task's XCom and log.

`mlp demo` runs pipelines through the platform's own scheduler, as a user's trigger would, rather than in
a second process racing that scheduler for the same task instances.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from mlplatform.errors import PlatformError
from mlplatform.polling import poll

FINISHED = frozenset({"success", "failed"})


class AirflowClient:
    def __init__(self, url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        response = httpx.post(
            f"{self.url}/auth/token", json={"username": username, "password": password}, timeout=timeout
        )
        if response.status_code not in (200, 201):
            raise PlatformError(
                f"Airflow at {self.url} refused user {username}: {response.status_code} {response.text}"
            )
        token = response.json()["access_token"]
        self.http = httpx.Client(
            base_url=f"{self.url}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise PlatformError(f"Airflow answered {response.status_code} to {method} {path}: {response.text[:400]}")
        return response.json()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, wait_for_dag: float = 180.0) -> str:
        """Start a run of `dag_id` now, waiting for the DAG processor to have parsed it; returns the run id.

        A paused DAG is unpaused first: its run would otherwise wait forever, and triggering says "run it"."""
        poll(
            lambda: self.http.get(f"/dags/{dag_id}").status_code != 404,
            timeout=wait_for_dag,
            interval=2,
            error=lambda _: PlatformError(
                f"Airflow has no DAG {dag_id} after {wait_for_dag:.0f}s: see the dag-processor lines of "
                "`mlp logs airflow` for import errors"
            ),
        )
        self.set_paused(dag_id, paused=False)
        run = self._json("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return str(run["dag_run_id"])

    def set_paused(self, dag_id: str, *, paused: bool) -> None:
        self._json("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def runs(self, dag_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The DAG's newest runs first (run_id, run_type, state, conf, ...)."""
        found = self._json("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after", "limit": limit})
        return list(found["dag_runs"])

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> None:
        self._json("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": state})

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        found = self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {t["task_id"]: t["state"] or "none" for t in found}

    def wait(
        self, dag_id: str, run_id: str, timeout: float, progress: Callable[[dict[str, str]], None] | None = None
    ) -> str:
        """Poll until the run finishes; `progress` sees the task states each time. Returns the run's state."""

        def state() -> str:
            current = str(self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"])
            if progress:
                progress(self.task_states(dag_id, run_id))
            return current

        return poll(
            state,
            until=lambda current: current in FINISHED,
            timeout=timeout,
            interval=3,
            error=lambda current: PlatformError(f"run {run_id} of {dag_id} is still {current} after {timeout:.0f}s"),
        )

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        entry = self._json(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"deserialize": "true", "stringify": "false"},
        )
        return entry["value"]

    def log_tail(self, dag_id: str, run_id: str, task_id: str, lines: int = 30) -> str:
        """The last lines of a task's latest try, for error messages."""
        instance = self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{instance.get('try_number') or 1}"
        body = self._json("GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"})
        content = body.get("content", "")
        if isinstance(content, list):  # structured log events
            text = [str(e.get("event", e)) if isinstance(e, dict) else str(e) for e in content]
        else:
            text = str(content).splitlines()
        return "\n".join(text[-lines:])
