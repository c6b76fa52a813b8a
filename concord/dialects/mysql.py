"""MariaDB/MySQL: read-only session transactions and a server-side statement time limit.

MariaDB's `max_statement_time` (seconds) and MySQL's `max_execution_time` (milliseconds) both make
the server itself abort the query, so a slow check does not keep running after Concord gave up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def engine_options(timeout_seconds: float, timezone: str) -> dict[str, Any]:
    # The socket timeout is only a backstop behind the server-side limit.
    return {"connect_args": {"connect_timeout": 10, "read_timeout": int(timeout_seconds) + 30}}


def install(engine: Engine, timeout_seconds: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute("SELECT VERSION()")
            version = str(cursor.fetchone()[0]).lower()
            if "mariadb" in version:
                cursor.execute(f"SET SESSION max_statement_time = {float(timeout_seconds):.3f}")
            else:
                cursor.execute(f"SET SESSION max_execution_time = {int(timeout_seconds * 1000)}")
        finally:
            cursor.close()
