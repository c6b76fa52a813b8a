"""Per-database session setup: read-only sessions and statement timeouts, one module per dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from concord.dialects import mysql, postgresql, sqlite, trino


def engine_options(backend: str, timeout_seconds: float, timezone: str) -> dict[str, Any]:
    """Keyword arguments for create_engine that make every connection read-only and bounded."""
    module = _module(backend)
    return module.engine_options(timeout_seconds, timezone)


def install_session_guards(engine: Engine, timeout_seconds: float) -> None:
    _module(engine.dialect.name).install(engine, timeout_seconds)


def _module(backend: str) -> Any:
    if backend == "sqlite":
        return sqlite
    if backend in ("mysql", "mariadb"):
        return mysql
    if backend == "postgresql":
        return postgresql
    if backend == "trino":
        return trino
    raise ValueError(f"Concord does not support '{backend}' databases yet; use SQLite, MariaDB/MySQL, PostgreSQL "
                     "or Trino")
