"""Concord's connections to business databases cannot write, and a statement past its timeout is stopped."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from concord.config import SourceConfig
from concord.errors import SourceError
from concord.sources import Source, redact_url, scrub_secrets
from tests.databases import DatabaseFactory

WRITES = [
    "INSERT INTO orders (id, status) VALUES (2, 'PAID')",
    "UPDATE orders SET status = 'LOST'",
    "DELETE FROM orders",
    "CREATE TABLE stolen (id INTEGER)",
    "DROP TABLE orders",
]
SLOW = {
    "sqlite": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000000) "
              "SELECT count(*) FROM n",
    # BENCHMARK() and SLEEP() return normally when interrupted; a real scan raises as a check query would.
    "mariadb": "SELECT COUNT(*) FROM information_schema.columns a, information_schema.columns b, "
               "information_schema.columns c",
    "postgres": "SELECT pg_sleep(20)",
}


def _seeded(backend: DatabaseFactory) -> str:
    url = backend.new("src")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE orders (id INTEGER PRIMARY KEY, status VARCHAR(20))"))
        connection.execute(text("INSERT INTO orders VALUES (1, 'PENDING')"))
    engine.dispose()
    return url


@pytest.mark.parametrize("statement", WRITES)
def test_a_write_through_a_source_connection_fails(backend: DatabaseFactory, statement: str) -> None:
    source = Source("orders", SourceConfig(url=_seeded(backend)))
    try:
        with pytest.raises(SourceError, match="source 'orders'"), source.connect() as connection:
            connection.execute(text(statement))
            connection.commit()
        with source.connect() as connection:
            assert connection.execute(text("SELECT id, status FROM orders")).all() == [(1, "PENDING")]
    finally:
        source.dispose()


def test_a_statement_past_its_timeout_is_stopped(backend: DatabaseFactory) -> None:
    source = Source("orders", SourceConfig(url=_seeded(backend), statement_timeout=timedelta(seconds=1)))
    started = time.monotonic()
    try:
        with pytest.raises(SourceError), source.connect() as connection:
            connection.execute(text(SLOW[backend.backend])).all()
    finally:
        source.dispose()
    assert time.monotonic() - started < 15


def test_passwords_are_redacted_and_scrubbed() -> None:
    url = "mysql+pymysql://checker:s3cr3t-pw@db.example/shop"
    assert redact_url(url) == "mysql+pymysql://checker:***@db.example/shop"
    assert scrub_secrets("login failed for checker:s3cr3t-pw", [url]) == "login failed for checker:***"


def test_a_failing_source_message_hides_the_password(mariadb: DatabaseFactory) -> None:
    source = Source("orders", SourceConfig(url="mysql+pymysql://nobody:topsecret99@127.0.0.1:3306/none"))
    with pytest.raises(SourceError) as caught, source.connect():
        pass
    assert "topsecret99" not in str(caught.value) and "***" in str(caught.value)
