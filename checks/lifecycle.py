"""The violation lifecycle: what a successful run's findings do to the stored violations.

Called only after a run finished without error, in one short transaction with the run's record
and watermark, so an errored run changes nothing. A key found failing opens (or reopens) its
violation; a key the run covered that did not fail is resolved, with its time to consistency.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from collectors.tables import chunks
from concord.store.runs import naive_utc
from concord.store.schema import OPEN_STATUSES, violation_events, violations

SYSTEM_ACTOR = "concord"


@dataclass
class Observed:
    """One failing entity of a run, ready to store."""

    fingerprint: str
    key_text: str
    key_display: str
    evidence: dict[str, Any]


@dataclass
class LifecycleCounts:
    opened: int = 0
    reopened: int = 0
    resolved: int = 0
    updated: int = 0


def apply_findings(connection: Connection, rule: str, severity: str, run_id: int, now: datetime,
                   observed: dict[str, Observed], covered: str | set[str]) -> LifecycleCounts:
    """covered is "all" when the run saw every entity of the rule, else the fingerprints it rechecked."""
    at = naive_utc(now)
    counts = LifecycleCounts()
    existing = _existing(connection, observed.keys())
    for fingerprint, item in observed.items():
        row = existing.get(fingerprint)
        evidence = json.dumps(item.evidence, ensure_ascii=False, default=str)
        if row is None:
            new_id = connection.execute(violations.insert().values(
                fingerprint=fingerprint, rule=rule, key_text=item.key_text, key_display=item.key_display[:500],
                severity=severity, status="open", first_seen=at, last_seen=at, evidence=evidence, occurrences=1,
                last_run_id=run_id, reopen_count=0,
            )).inserted_primary_key[0]
            _event(connection, new_id, at, "opened", None, "open", run_id, "failed the rule")
            counts.opened += 1
        elif row.status == "resolved":
            connection.execute(violations.update().where(violations.c.id == row.id).values(
                status="open", last_seen=at, evidence=evidence, occurrences=row.occurrences + 1, last_run_id=run_id,
                resolved_at=None, ttc_seconds=None, severity=severity, reopen_count=row.reopen_count + 1))
            _event(connection, row.id, at, "reopened", "resolved", "open", run_id, "failed the rule again")
            counts.reopened += 1
        else:
            values: dict[str, Any] = dict(last_seen=at, evidence=evidence, occurrences=row.occurrences + 1,
                                          last_run_id=run_id, severity=severity)
            if row.status == "muted" and row.muted_until is not None and row.muted_until <= at:
                values.update(status="open", muted_until=None)
                _event(connection, row.id, at, "unmuted", "muted", "open", run_id, "the mute period ended")
            connection.execute(violations.update().where(violations.c.id == row.id).values(**values))
            counts.updated += 1
    counts.resolved = _resolve_passing(connection, rule, run_id, at, set(observed), covered)
    return counts


def _existing(connection: Connection, fingerprints: Iterable[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in chunks(sorted(fingerprints), 500):
        query = select(violations.c.id, violations.c.fingerprint, violations.c.status, violations.c.occurrences,
                       violations.c.muted_until, violations.c.reopen_count).where(violations.c.fingerprint.in_(chunk))
        for row in connection.execute(query):
            found[row.fingerprint] = row
    return found


def _resolve_passing(connection: Connection, rule: str, run_id: int, at: datetime | None, failing: set[str],
                     covered: str | set[str]) -> int:
    query = select(violations.c.id, violations.c.fingerprint, violations.c.status, violations.c.first_seen).where(
        violations.c.rule == rule, violations.c.status.in_(OPEN_STATUSES))
    if covered != "all":
        candidates = sorted(set(covered) - failing)
        rows = [r for chunk in chunks(candidates, 500)
                for r in connection.execute(query.where(violations.c.fingerprint.in_(chunk)))]
    else:
        rows = [r for r in connection.execute(query) if r.fingerprint not in failing]
    for row in rows:
        connection.execute(violations.update().where(violations.c.id == row.id).values(
            status="resolved", resolved_at=at, muted_until=None,
            ttc_seconds=(at - row.first_seen).total_seconds() if at else None))
        _event(connection, row.id, at, "resolved", row.status, "resolved", run_id, "passed the rule again")
    return len(rows)


def _event(connection: Connection, violation_id: int, at: datetime | None, action: str, before: str | None,
           after: str, run_id: int, note: str) -> None:
    connection.execute(violation_events.insert().values(
        violation_id=violation_id, at=at, actor=SYSTEM_ACTOR, action=action, from_status=before, to_status=after,
        note=f"{note} (run {run_id})", run_id=run_id))
