"""Shared fixtures: real databases per backend, configs written to disk, a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from concord.clock import FrozenClock
from tests.databases import BACKENDS, DatabaseFactory, databases

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseFactory]:
    """Every database test runs on SQLite, MariaDB and PostgreSQL."""
    with databases(request.param, tmp_path) as factory:
        yield factory


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[DatabaseFactory]:
    with databases("mariadb", tmp_path) as factory:
        yield factory


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[DatabaseFactory]:
    with databases("postgres", tmp_path) as factory:
        yield factory


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[DatabaseFactory]:
    with databases("sqlite", tmp_path) as factory:
        yield factory


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)
