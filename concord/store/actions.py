"""What people do to violations: acknowledge, resolve, mute (optionally until a time), reopen.

Actions take violation ids (never row positions), and each change is an event with who, when and
the note, written in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from concord.store.runs import naive_utc
from concord.store.schema import violation_events, violations

# Which statuses each action may start from; anything else is left alone and reported as skipped.
_ALLOWED_FROM = {
    "acknowledge": ("open", "muted"),
    "resolve": ("open", "acknowledged", "muted"),
    "mute": ("open", "acknowledged"),
    "reopen": ("resolved", "acknowledged", "muted"),
}
_TARGET = {"acknowledge": "acknowledged", "resolve": "resolved", "mute": "muted", "reopen": "open"}
_EVENT = {"acknowledge": "acknowledged", "resolve": "resolved", "mute": "muted", "reopen": "reopened"}


def apply_action(connection: Connection, action: str, ids: Iterable[int], actor: str, now: datetime,
                 note: str | None = None, until: datetime | None = None) -> list[int]:
    """Change the violations with these ids; returns the ids that changed."""
    if action not in _TARGET:
        raise ValueError(f"'{action}' is not an action; use one of {', '.join(_TARGET)}")
    if not actor.strip():
        raise ValueError("every action needs the name of the person taking it")
    wanted = sorted(set(int(i) for i in ids))
    if not wanted:
        return []
    rows = connection.execute(
        select(violations.c.id, violations.c.status, violations.c.first_seen)
        .where(violations.c.id.in_(wanted)).with_for_update()
    ).all()
    at = naive_utc(now)
    changed = []
    for row in rows:
        if row.status not in _ALLOWED_FROM[action]:
            continue
        values: dict[str, object] = {"status": _TARGET[action]}
        if action == "resolve":
            values.update(resolved_at=at, ttc_seconds=(at - row.first_seen).total_seconds(), muted_until=None)
        elif action == "mute":
            values["muted_until"] = naive_utc(until)
        elif action == "reopen":
            values.update(resolved_at=None, muted_until=None)
        else:
            values["muted_until"] = None
        connection.execute(violations.update().where(violations.c.id == row.id).values(**values))
        connection.execute(violation_events.insert().values(
            violation_id=row.id, at=at, actor=actor, action=_EVENT[action],
            from_status=row.status, to_status=_TARGET[action], note=note))
        changed.append(row.id)
    return changed
