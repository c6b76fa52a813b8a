"""Each source's health as the checkers last saw it, shared through the store so that `/readyz`, the
metrics and every checker process see the same back-off (the back-off itself is decided in memory by
the checker that met the failure; this is its public record)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from concord.store.runs import naive_utc
from concord.store.schema import source_health


def record_ok(connection: Connection, names: list[str], now: datetime) -> None:
    at = naive_utc(now)
    for name in names:
        _upsert(connection, name, dict(failures=0, retry_at=None, last_error=None, last_ok_at=at, updated_at=at))


def record_failure(connection: Connection, name: str, failures: int, retry_at: datetime, error: str,
                   now: datetime) -> None:
    _upsert(connection, name, dict(failures=failures, retry_at=naive_utc(retry_at), last_error=error[:1000],
                                   updated_at=naive_utc(now)))


def source_states(connection: Connection) -> dict[str, dict[str, Any]]:
    return {row.source: dict(row._mapping) for row in connection.execute(select(source_health))}


def _upsert(connection: Connection, name: str, values: dict[str, Any]) -> None:
    if connection.execute(update(source_health).where(source_health.c.source == name).values(**values)).rowcount:
        return
    try:
        with connection.begin_nested():
            connection.execute(source_health.insert().values(source=name, **values))
    except IntegrityError:  # another checker inserted it first: ours is as recent, write over it
        connection.execute(update(source_health).where(source_health.c.source == name).values(**values))
