"""SQLite: `PRAGMA query_only` refuses writes; a progress handler interrupts statements past the timeout."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def engine_options(timeout_seconds: float, timezone: str) -> dict[str, Any]:
    return {"connect_args": {"timeout": min(timeout_seconds, 30.0)}}


def install(engine: Engine, timeout_seconds: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA query_only = ON")
        deadline = {"at": float("inf")}

        def _past_deadline() -> int:
            return 1 if time.monotonic() > deadline["at"] else 0

        dbapi_connection.set_progress_handler(_past_deadline, 10_000)
        _record.info["deadline"] = deadline

    @event.listens_for(engine, "before_cursor_execute")
    def _arm(conn: Any, _cursor: Any, _stmt: Any, _params: Any, _ctx: Any, _many: Any) -> None:
        deadline = conn.connection._connection_record.info.get("deadline")
        if deadline is not None:
            deadline["at"] = time.monotonic() + timeout_seconds
