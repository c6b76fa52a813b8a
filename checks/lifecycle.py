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

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from collectors.tables import chunks
from concord.store.runs import naive_utc
from concord.store.schema import OPEN_STATUSES, alert_outbox, violation_events, violations

SYSTEM_ACTOR = "concord"
ANNOUNCED = ("opened", "reopened", "resolved")
WRITE_CHUNK = 2000  # rows per executemany: few round trips, bounded parameter memory


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
                   observed: dict[str, Observed], covered: str | set[str], outbox: bool = False) -> LifecycleCounts:
    """covered is "all" when the run saw every entity of the rule, else the fingerprints it rechecked.

    With `outbox`, every open, reopen and resolve also writes an alert_outbox row in this same
    transaction: the change and the duty to announce it commit together or not at all.

    Writes go out as a few executemany statements, not one statement per key: a rule failing on
    100,000 keys is stored in seconds, inside the same single transaction.
    """
    at = naive_utc(now)
    counts = LifecycleCounts()
    existing = _existing(connection, observed.keys())
    events: list[dict[str, Any]] = []
    inserts, reopens, updates = [], [], []
    for fingerprint, item in observed.items():
        row = existing.get(fingerprint)
        evidence = json.dumps(item.evidence, ensure_ascii=False, default=str)
        if row is None:
            inserts.append(dict(fingerprint=fingerprint, rule=rule, key_text=item.key_text,
                                key_display=item.key_display[:500], severity=severity, status="open", first_seen=at,
                                last_seen=at, evidence=evidence, occurrences=1, last_run_id=run_id, reopen_count=0))
        elif row.status == "resolved":
            reopens.append(dict(_id=row.id, evidence=evidence, occurrences=row.occurrences + 1,
                                reopen_count=row.reopen_count + 1))
            events.append(_event(row.id, at, "reopened", "resolved", "open", run_id, "failed the rule again"))
        else:
            unmute = row.status == "muted" and row.muted_until is not None and row.muted_until <= at
            updates.append(dict(_id=row.id, evidence=evidence, occurrences=row.occurrences + 1,
                                status="open" if unmute else row.status,
                                muted_until=None if unmute else row.muted_until))
            if unmute:
                events.append(_event(row.id, at, "unmuted", "muted", "open", run_id, "the mute period ended"))
    for chunk in chunks(inserts, WRITE_CHUNK):
        connection.execute(violations.insert(), chunk)
        new_ids = _existing(connection, [i["fingerprint"] for i in chunk])
        events += [_event(new_ids[i["fingerprint"]].id, at, "opened", None, "open", run_id, "failed the rule")
                   for i in chunk]
    for chunk in chunks(reopens, WRITE_CHUNK):
        connection.execute(violations.update().where(violations.c.id == bindparam("_id")).values(
            status="open", last_seen=at, evidence=bindparam("evidence"), occurrences=bindparam("occurrences"),
            last_run_id=run_id, resolved_at=None, ttc_seconds=None, severity=severity,
            reopen_count=bindparam("reopen_count")), chunk)
    for chunk in chunks(updates, WRITE_CHUNK):
        connection.execute(violations.update().where(violations.c.id == bindparam("_id")).values(
            last_seen=at, evidence=bindparam("evidence"), occurrences=bindparam("occurrences"), last_run_id=run_id,
            severity=severity, status=bindparam("status"), muted_until=bindparam("muted_until")), chunk)
    counts.opened, counts.reopened, counts.updated = len(inserts), len(reopens), len(updates)
    resolved = _resolve_passing(connection, rule, run_id, at, set(observed), covered)
    counts.resolved = len(resolved)
    events += resolved
    for chunk in chunks(events, WRITE_CHUNK):
        connection.execute(violation_events.insert(), chunk)
    if outbox:
        announced = [dict(violation_id=e["violation_id"], rule=rule, severity=severity, event=e["action"], at=at)
                     for e in events if e["action"] in ANNOUNCED]
        for chunk in chunks(announced, WRITE_CHUNK):
            connection.execute(alert_outbox.insert(), chunk)
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
                     covered: str | set[str]) -> list[dict[str, Any]]:
    """Resolves the open violations the run covered and did not find failing; returns their events."""
    query = select(violations.c.id, violations.c.fingerprint, violations.c.status, violations.c.first_seen).where(
        violations.c.rule == rule, violations.c.status.in_(OPEN_STATUSES))
    if covered != "all":
        candidates = sorted(set(covered) - failing)
        rows = [r for chunk in chunks(candidates, 500)
                for r in connection.execute(query.where(violations.c.fingerprint.in_(chunk)))]
    else:
        rows = [r for r in connection.execute(query) if r.fingerprint not in failing]
    if rows:
        connection.execute(violations.update().where(violations.c.id == bindparam("_id")).values(
            status="resolved", resolved_at=at, muted_until=None, ttc_seconds=bindparam("ttc")),
            [dict(_id=r.id, ttc=(at - r.first_seen).total_seconds() if at else None) for r in rows])
    return [_event(r.id, at, "resolved", r.status, "resolved", run_id, "passed the rule again") for r in rows]


def _event(violation_id: int, at: datetime | None, action: str, before: str | None, after: str, run_id: int,
           note: str) -> dict[str, Any]:
    return dict(violation_id=violation_id, at=at, actor=SYSTEM_ACTOR, action=action, from_status=before,
                to_status=after, note=f"{note} (run {run_id})", run_id=run_id)
