"""Opening the store: SQLite in WAL mode by default, MariaDB or PostgreSQL when shared, always migrated.

Several processes write at once (the checker, the receiver, the dashboard's actions), so SQLite
gets WAL, a busy timeout, and every write is a short transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url

from concord.sources import resolve_sqlite_path

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "head"


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One short write transaction."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(concord_read_only=True) as connection:
            yield connection

    def migrate(self, revision: str = HEAD) -> None:
        """Bring the schema to `revision`; data and history are kept by every migration.

        Several processes may start at once on a fresh shared store: the upgrade runs under a lock
        (SQLite's write lock, PostgreSQL's advisory lock, MariaDB's GET_LOCK), so one migrates and the
        others find the schema current.
        """
        dialect = self.engine.dialect.name
        with self.engine.connect() as connection:
            if dialect in ("mysql", "mariadb"):
                connection.exec_driver_sql("SELECT GET_LOCK('concord_migrate', 120)")
                connection.commit()  # the lock is the session's; end the implicit transaction before DDL
            try:
                with connection.begin():
                    if dialect == "postgresql":
                        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7305712)")
                    cfg = AlembicConfig()
                    cfg.set_main_option("script_location", str(MIGRATIONS))
                    cfg.attributes["connection"] = connection
                    command.upgrade(cfg, revision)
            finally:
                if dialect in ("mysql", "mariadb"):
                    connection.exec_driver_sql("SELECT RELEASE_LOCK('concord_migrate')")
                    connection.commit()

    def schema_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str, base_dir: Path = Path("."), migrate: bool = True, busy_timeout: float = 30.0) -> Store:
    """The store at `url`; SQLite writers wait up to `busy_timeout` seconds for each other."""
    url = resolve_sqlite_path(url, base_dir)
    parsed = make_url(url)
    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": busy_timeout}
    else:
        options.update(pool_size=3, max_overflow=2, pool_pre_ping=True, pool_recycle=1800)
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine, int(busy_timeout * 1000))
    store = Store(engine)
    if migrate:
        store.migrate()
    return store


def _tune_sqlite(engine: Engine, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN; take control so writes start with BEGIN IMMEDIATE
        # and wait on the busy timeout instead of failing with "database is locked" on upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get("concord_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
