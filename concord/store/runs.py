"""Run records and per-rule watermarks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from concord.store.schema import runs, watermarks


def naive_utc(moment: datetime | None) -> datetime | None:
    """The store keeps naive UTC; callers hand it aware datetimes."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def start_run(connection: Connection, rule: str, scope: str, started_at: datetime,
              window_start: datetime | None = None, window_end: datetime | None = None,
              owner: str | None = None) -> int:
    result = connection.execute(runs.insert().values(
        rule=rule, scope=scope, status="running", started_at=naive_utc(started_at), owner=owner,
        window_start=naive_utc(window_start), window_end=naive_utc(window_end),
        rows_checked=0, findings=0, opened=0, resolved=0, reopened=0,
    ))
    return int(result.inserted_primary_key[0])


def finish_run(connection: Connection, run_id: int, finished_at: datetime, status: str,
               error: str | None = None, **counts: Any) -> None:
    connection.execute(runs.update().where(runs.c.id == run_id).values(
        status=status, finished_at=naive_utc(finished_at), error=error, **counts))


def get_watermark(connection: Connection, rule: str) -> datetime | None:
    value = connection.execute(select(watermarks.c.value).where(watermarks.c.rule == rule)).scalar()
    return value.replace(tzinfo=UTC) if value is not None else None


def set_watermark(connection: Connection, rule: str, value: datetime, now: datetime) -> None:
    """Watermarks only move forward: a late or repeated run never moves one back."""
    current = get_watermark(connection, rule)
    if current is None:
        connection.execute(watermarks.insert().values(rule=rule, value=naive_utc(value), updated_at=naive_utc(now)))
    elif value > current:
        connection.execute(watermarks.update().where(watermarks.c.rule == rule)
                           .values(value=naive_utc(value), updated_at=naive_utc(now)))
