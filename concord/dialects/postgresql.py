"""PostgreSQL: read-only transactions, statement_timeout and the source's time zone as startup options.

Startup options rather than SET statements, because a SET inside the first transaction would be
undone by the pool's rollback-on-return.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine


def engine_options(timeout_seconds: float, timezone: str) -> dict[str, Any]:
    options = (f"-c default_transaction_read_only=on -c statement_timeout={int(timeout_seconds * 1000)} "
               f"-c TimeZone={timezone}")
    return {"connect_args": {"options": options, "connect_timeout": 10}}


def install(engine: Engine, timeout_seconds: float) -> None:
    """Everything is in the startup options."""
