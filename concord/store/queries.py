"""Reading violations back: filters done in SQL, for the CLI's exit code, exports and the dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from concord.config import SEVERITY_RANK
from concord.store.runs import naive_utc
from concord.store.schema import violation_events, violations


@dataclass
class ViolationFilter:
    statuses: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    since: datetime | None = None
    key_contains: str | None = None
    limit: int | None = None
    offset: int = 0


def needs_attention(now: datetime) -> ColumnElement[bool]:
    """Open, or muted past its `until`: what a cron job or an on-call engineer must act on."""
    at = naive_utc(now)
    return or_(
        violations.c.status == "open",
        and_(violations.c.status == "muted", violations.c.muted_until.is_not(None), violations.c.muted_until <= at),
    )


def filter_conditions(flt: ViolationFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.statuses:
        conditions.append(violations.c.status.in_(flt.statuses))
    if flt.severities:
        conditions.append(violations.c.severity.in_(flt.severities))
    if flt.rules:
        conditions.append(violations.c.rule.in_(flt.rules))
    if flt.since is not None:
        conditions.append(violations.c.last_seen >= naive_utc(flt.since))
    if flt.key_contains:
        conditions.append(violations.c.key_display.contains(flt.key_contains, autoescape=True))
    return conditions


def list_violations(connection: Connection, flt: ViolationFilter) -> list[dict[str, Any]]:
    query = select(violations).where(*filter_conditions(flt)).order_by(violations.c.last_seen.desc(),
                                                                       violations.c.id.desc())
    if flt.limit is not None:
        query = query.limit(flt.limit).offset(flt.offset)
    return [_decoded(row) for row in connection.execute(query).mappings()]


def count_needing_attention(connection: Connection, now: datetime, min_severity: str = "info",
                            rules: list[str] | None = None) -> int:
    allowed = [s for s, rank in SEVERITY_RANK.items() if rank >= SEVERITY_RANK[min_severity]]
    query = select(func.count()).select_from(violations).where(
        needs_attention(now), violations.c.severity.in_(allowed))
    if rules:
        query = query.where(violations.c.rule.in_(rules))
    return int(connection.execute(query).scalar() or 0)


def events_of(connection: Connection, violation_id: int) -> list[dict[str, Any]]:
    rows = connection.execute(select(violation_events).where(violation_events.c.violation_id == violation_id)
                              .order_by(violation_events.c.id)).mappings()
    return [dict(row) for row in rows]


def _decoded(row: Any) -> dict[str, Any]:
    record = dict(row)
    record["evidence"] = json.loads(record["evidence"]) if record.get("evidence") else {}
    return record
