"""One clock for the whole process, so tests and the demo can set the time.

Every part that needs "now" (windows, grace periods, first/last seen, watermarks) asks a Clock
instead of calling datetime.now(); `CONCORD_NOW` (ISO 8601) freezes the CLI's clock.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to: for tests and the demo's simulated timeline."""

    def __init__(self, at: datetime) -> None:
        self._at = as_utc(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = as_utc(at)

    def advance(self, by: timedelta) -> None:
        self._at += by


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes in Concord's own code are UTC; make that explicit."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def clock_from_env() -> Clock:
    frozen = os.environ.get("CONCORD_NOW")
    if frozen:
        return FrozenClock(datetime.fromisoformat(frozen))
    return SystemClock()
