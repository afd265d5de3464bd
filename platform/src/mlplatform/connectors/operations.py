"""What `mlp connectors` does: validate everything, plan the changes, apply, wait, report.

Nothing is applied unless every definition validates, so a folder is never half-applied because
of one bad file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlplatform.connectors.client import ConnectClient, ConnectError
from mlplatform.connectors.definitions import SECRET_KEY, Located
from mlplatform.errors import PlatformError
from mlplatform.polling import poll


@dataclass(frozen=True)
class FieldError:
    connector: str
    path: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: connector '{self.connector}': {self.field}: {self.message}"


@dataclass(frozen=True)
class Change:
    """One connector's action: create, update, unchanged or delete, with the keys that differ."""

    name: str
    action: str
    diff: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    config: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "diff": [{"key": k, "old": _shown(k, old), "new": _shown(k, new)} for k, old, new in self.diff],
        }


@dataclass(frozen=True)
class Outcome:
    name: str
    state: str
    tasks: list[str]
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def _shown(key: str, value: str | None) -> str | None:
    """Values of secret-looking keys are masked in every report, even if they are references."""
    if value is not None and SECRET_KEY.search(key):
        return "****"
    return value


def validate(client: ConnectClient, definitions: Sequence[Located]) -> list[FieldError]:
    """Connect's own validation of each definition, as errors per field."""
    errors: list[FieldError] = []
    for item in definitions:
        definition = item.definition
        result = client.validate(definition.connector_class, definition.connect_config())
        for entry in result.get("configs", []):
            value = entry.get("value", {})
            for message in value.get("errors", []):
                errors.append(FieldError(definition.name, str(item.path), value.get("name", "?"), message))
    return errors


def plan(client: ConnectClient, definitions: Sequence[Located], prune: bool) -> list[Change]:
    """What applying `definitions` changes, from one read of every connector's config."""
    current = {name: entry["info"]["config"] for name, entry in client.expanded().items()}
    changes: list[Change] = []
    for item in definitions:
        name, desired = item.definition.name, item.definition.connect_config()
        if name not in current:
            changes.append(Change(name, "create", _diff({}, desired), desired))
        elif current[name] != desired:
            changes.append(Change(name, "update", _diff(current[name], desired), desired))
        else:
            changes.append(Change(name, "unchanged", [], desired))
    if prune:
        wanted = {item.definition.name for item in definitions}
        changes += [Change(name, "delete") for name in sorted(current) if name not in wanted]
    return changes


def checked_plan(client: ConnectClient, definitions: Sequence[Located], prune: bool) -> list[Change]:
    """The plan, once Connect has validated every definition it creates or updates (else nothing is applied).

    An unchanged definition is what Connect already runs, so a no-op apply costs one read, not a validation
    per connector.
    """
    changes = plan(client, definitions, prune)
    changing = {change.name for change in changes if change.action in ("create", "update")}
    require_valid(validate(client, [item for item in definitions if item.definition.name in changing]))
    return changes


def _diff(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, str | None, str | None]]:
    keys = sorted(set(old) | set(new))
    return [(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]


def execute(client: ConnectClient, changes: Sequence[Change]) -> None:
    for change in changes:
        if change.action in ("create", "update"):
            client.put_config(change.name, change.config)
        elif change.action == "delete":
            client.delete(change.name)


def wait_running(client: ConnectClient, names: Sequence[str], timeout: float) -> list[Outcome]:
    """Poll until every connector and task runs or one fails; failures carry their trace's first line."""
    pending = list(names)
    outcomes: dict[str, Outcome] = {}

    def settled() -> list[str]:
        statuses = {name: entry["status"] for name, entry in client.expanded().items()}
        for name in list(pending):
            outcome = _outcome(name, statuses.get(name))
            if outcome.failed or (outcome.state == "RUNNING" and outcome.tasks and set(outcome.tasks) == {"RUNNING"}):
                outcomes[name] = outcome
                pending.remove(name)
        return pending

    poll(settled, until=lambda left: not left, timeout=timeout, interval=0.5)
    for name in pending:
        last = outcome_of(client, name)
        outcomes[name] = Outcome(name, last.state, last.tasks, f"not running after {timeout:.0f}s")
    return [outcomes[name] for name in names]


def outcome_of(client: ConnectClient, name: str) -> Outcome:
    try:
        return _outcome(name, client.status(name))
    except ConnectError as missing:
        if missing.status != 404:
            raise
        return _outcome(name, None)


def _outcome(name: str, status: dict[str, Any] | None) -> Outcome:
    """A connector's state from its status; None while no worker has reported it (just created)."""
    if status is None:
        return Outcome(name, "UNASSIGNED", [])
    connector = status["connector"]
    tasks = status.get("tasks", [])
    traces = [connector.get("trace")] + [task.get("trace") for task in tasks if task.get("state") == "FAILED"]
    first = next((trace.strip().splitlines()[0] for trace in traces if trace), None)
    failed = connector["state"] == "FAILED" or any(task["state"] == "FAILED" for task in tasks)
    error = (first or "failed without a trace") if failed else None
    return Outcome(name, connector["state"], [task["state"] for task in tasks], error)


def require_valid(errors: Sequence[FieldError]) -> None:
    if errors:
        listing = "\n  ".join(str(error) for error in errors)
        raise PlatformError(f"Connect rejected {len(errors)} setting(s); nothing was applied:\n  {listing}")
