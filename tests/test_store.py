"""The store: migrations keep history, several processes write SQLite at once, MariaDB and PostgreSQL
work as the store too, and masked columns never reach it."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from concord.store import open_store
from concord.store.actions import apply_action
from concord.store.schema import violation_events, violations
from tests.databases import DatabaseFactory
from tests.shop import RULES, checker_for, load_mini_shop, write_config


def test_upgrade_from_the_first_schema_keeps_every_violation_and_its_history(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = open_store(url, migrate=False)
    old.migrate("0001")
    first_seen, resolved_at = datetime(2026, 11, 1, 8, 0), datetime(2026, 11, 1, 8, 7)
    with old.begin() as connection:  # written with the first schema's columns only
        connection.execute(text(
            "INSERT INTO violations (id, fingerprint, rule, key_text, key_display, severity, status, first_seen, "
            "last_seen, resolved_at, evidence, occurrences) VALUES (1, 'fp1', 'r', '[1]', '1', 'high', 'resolved', "
            ":first, :last, :resolved, '{}', 3)"), {"first": first_seen, "last": resolved_at, "resolved": resolved_at})
        connection.execute(text(
            "INSERT INTO violation_events (violation_id, at, actor, action, from_status, to_status, note) "
            "VALUES (1, :at, 'alice', 'acknowledged', 'open', 'acknowledged', 'on it')"), {"at": first_seen})
    old.dispose()

    store = open_store(url)
    assert store.schema_revision() == "0006"
    with store.read() as connection:
        violation = connection.execute(select(violations)).one()
        event = connection.execute(select(violation_events)).one()
    assert (violation.status, violation.occurrences, violation.ttc_seconds, violation.reopen_count) == \
        ("resolved", 3, 420.0, 0)
    assert (event.actor, event.note) == ("alice", "on it")
    store.dispose()


def _writer(url: str, worker: int, rounds: int) -> None:
    store = open_store(url, migrate=False)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    for n in range(rounds):
        with store.begin() as connection:
            new_id = connection.execute(violations.insert().values(
                fingerprint=f"w{worker}-{n}", rule="parallel", key_text=f"[{worker},{n}]", key_display="k",
                severity="low", status="open", first_seen=now, last_seen=now, evidence="{}", occurrences=1,
                reopen_count=0)).inserted_primary_key[0]
        with store.begin() as connection:
            apply_action(connection, "acknowledge", [new_id], f"worker-{worker}", now + timedelta(seconds=n))
    store.dispose()


def test_parallel_writer_processes_on_sqlite_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    open_store(url).dispose()
    # Separate interpreters (not multiprocessing, whose spawn re-runs whatever __main__ is at the time)
    root = Path(__file__).resolve().parents[1]
    script = "from tests.test_store import _writer; _writer({url!r}, {worker}, 40)"
    workers = [subprocess.Popen([sys.executable, "-c", script.format(url=url, worker=w)], cwd=root) for w in range(4)]
    assert [p.wait(120) for p in workers] == [0, 0, 0, 0]
    store = open_store(url)
    with store.read() as connection:
        assert connection.execute(select(func.count()).select_from(violations)).scalar() == 160
        assert connection.execute(select(func.count()).select_from(violation_events)).scalar() == 160
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.dispose()


@pytest.mark.parametrize("server", ["mariadb", "postgres"])
def test_mariadb_and_postgres_work_as_the_store(server: str, request: pytest.FixtureRequest, sqlite: DatabaseFactory,
                                                tmp_path: Path) -> None:
    factory: DatabaseFactory = request.getfixturevalue(server)
    url = sqlite.new("shop")
    urls = {"orders": url, "payments": url, "inventory": url}
    load_mini_shop(urls)
    checker, store = checker_for(write_config(tmp_path, urls, list(RULES.values()), store_url=factory.new("store")))
    try:
        outcomes = checker.check_once()
        assert all(o.status == "ok" for o in outcomes)
        with store.read() as connection:
            assert connection.execute(select(func.count()).select_from(violations)).scalar() == 9
        assert store.schema_revision() == "0006"
    finally:
        checker.close()
        store.dispose()


def test_masked_columns_never_reach_the_store(sqlite: DatabaseFactory, tmp_path: Path) -> None:
    url = sqlite.new("shop")
    urls = {"orders": url, "payments": url, "inventory": url}
    load_mini_shop(urls)
    checker, store = checker_for(write_config(tmp_path, urls, [RULES["exists"], RULES["state_values"]]))
    checker.check_once()
    checker.close()
    store.dispose()
    raw = (tmp_path / "store.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("store.db-*"))
    assert b"secret2@example.com" not in raw and b"+15550002" not in raw
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as connection:
        evidence = connection.execute(text("SELECT evidence FROM violations WHERE key_text = '[2]'")).scalar()
    engine.dispose()
    assert '"customer_email": "•••"' in evidence and '"status": "PAID"' in evidence
