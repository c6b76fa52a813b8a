"""Read-only handles on the business databases: small pools, bounded statements, local time zones."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import MetaData, Table, create_engine
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from concord.config import SourceConfig
from concord.dialects import engine_options, install_session_guards
from concord.errors import SourceError


def redact_url(url: str | URL) -> str:
    """A URL safe for logs, pages and exports: the password is never shown."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as nothing rather than leaked
        return "<unparsable database URL>"


def resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Relative SQLite paths in concord.yaml are relative to the file, not to the working directory."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:" \
            and not Path(parsed.database).is_absolute():
        return parsed.set(database=str((base_dir / parsed.database).resolve())).render_as_string(hide_password=False)
    return url


class Source:
    """One business database, reached only through read-only, time-bounded connections."""

    def __init__(self, name: str, config: SourceConfig, base_dir: Path = Path(".")) -> None:
        self.name = name
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        url = resolve_sqlite_path(config.url, base_dir)
        backend = make_url(url).get_backend_name()
        timeout = config.statement_timeout.total_seconds()
        options = engine_options(backend, timeout, config.timezone)
        if backend != "sqlite":
            options.update(pool_size=config.pool_size, max_overflow=0, pool_pre_ping=True, pool_recycle=1800)
        self.engine: Engine = create_engine(url, **options)
        install_session_guards(self.engine, timeout)
        self._tables: dict[tuple[str | None, str], Table] = {}
        self._slots = threading.BoundedSemaphore(config.max_concurrent_queries)
        self._held = threading.local()
        self._rate_lock = threading.Lock()
        self._window_started, self._window_rows = time.monotonic(), 0

    @property
    def dialect_name(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        return redact_url(self.engine.url)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection whose failures become SourceError, with the password kept out of the message.

        At most `max_concurrent_queries` runs use this source at once; a run's nested lookups (a page
        being streamed while its target rows are fetched) count once, so a limit of 1 cannot deadlock.
        """
        nested = getattr(self._held, "depth", 0)
        if not nested:
            self._slots.acquire()
        self._held.depth = nested + 1
        try:
            with self.engine.connect() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise SourceError(f"source '{self.name}' ({self.display_url}) failed: {_short(exc)}",
                              self.name) from exc
        finally:
            self._held.depth -= 1
            if not self._held.depth:
                self._slots.release()

    def throttle(self, rows: int) -> None:
        """Keep reads under `rows_per_second`: sleep as long as this source is ahead of its budget."""
        limit = self.config.rows_per_second
        if not limit or rows <= 0:
            return
        with self._rate_lock:
            now = time.monotonic()
            if now - self._window_started > 60:  # a fresh budget after a pause, not a burst
                self._window_started, self._window_rows = now, 0
            self._window_rows += rows
            ahead = self._window_rows / limit - (now - self._window_started)
        if ahead > 0:
            time.sleep(ahead)

    def table(self, name: str, schema: str | None = None) -> Table:
        """The reflected table, cached; a missing table is a clear SourceError."""
        cache_key = (schema, name)
        if cache_key not in self._tables:
            try:
                with self.engine.connect() as connection:
                    self._tables[cache_key] = Table(name, MetaData(), schema=schema, autoload_with=connection)
            except NoSuchTableError as exc:
                raise SourceError(f"source '{self.name}' has no table '{name}'; check the rule's 'table'",
                                  self.name) from exc
            except SQLAlchemyError as exc:
                raise SourceError(f"source '{self.name}' ({self.display_url}) failed: {_short(exc)}",
                                  self.name) from exc
        return self._tables[cache_key]

    def to_local(self, moment: datetime) -> datetime:
        """A UTC instant as the naive local time the source's columns are written in."""
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def to_utc(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(UTC)

    def dispose(self) -> None:
        self.engine.dispose()


def _short(exc: SQLAlchemyError) -> str:
    """The driver's own message, first line only, without SQLAlchemy's SQL echo and parameters."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return text[:500]


def scrub_secrets(text: str, urls: list[str]) -> str:
    """Remove any password of the given URLs from a message before it is logged, stored or shown."""
    for url in urls:
        try:
            password = make_url(url).password
        except Exception:  # noqa: BLE001, S112 - an unparsable URL has no password we could find
            continue
        if password:
            text = text.replace(str(password), "***")
    return text
