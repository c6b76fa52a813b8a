"""Trino (a federating engine in front of the service databases): a time limit per query as a session
property. Read-only is the catalogs' business in Trino: give Concord's user SELECT only."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine


def engine_options(timeout_seconds: float, timezone: str) -> dict[str, Any]:
    return {"connect_args": {"session_properties": {"query_max_execution_time": f"{max(1, int(timeout_seconds))}s"},
                             "timezone": timezone}}


def install(engine: Engine, timeout_seconds: float) -> None:
    """Everything is in the session properties."""
