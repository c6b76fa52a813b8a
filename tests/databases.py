"""Throwaway databases on the real servers of this machine: one fresh database per use, dropped after.

A server that is down is a test failure, never a skip: CI must not pass without MariaDB and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

MARIADB_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/mysql"
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "mariadb", "postgres")


class DatabaseFactory:
    """Creates databases on one backend and forgets none of them."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.created: list[str] = []

    def new(self, label: str = "db") -> str:
        name = f"concord_t_{label}_{uuid.uuid4().hex[:10]}"
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp_path / (name + '.db')}"
        admin = MARIADB_ADMIN if self.backend == "mariadb" else POSTGRES_ADMIN
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f"CREATE DATABASE {name}"))
        except OperationalError as exc:
            pytest.fail(f"the {self.backend} server on this machine is not reachable ({exc.orig}); start it "
                        "(see .ci/run) — database tests never skip", pytrace=False)
        finally:
            engine.dispose()
        self.created.append(name)
        if self.backend == "mariadb":
            return f"mysql+pymysql://root@127.0.0.1:3306/{name}"
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

    def drop_all(self) -> None:
        if self.backend == "sqlite" or not self.created:
            return
        admin = MARIADB_ADMIN if self.backend == "mariadb" else POSTGRES_ADMIN
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for name in self.created:
                if self.backend == "postgres":
                    connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                else:
                    connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        engine.dispose()


@contextmanager
def databases(backend: str, tmp_path: Path) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(backend, tmp_path)
    try:
        yield factory
    finally:
        factory.drop_all()
