"""Production guards: a failing source is backed off (exponentially, capped) while other sources' rules
go on; reads stay under a rows-per-second cap; a statement past its timeout is cancelled on the server."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from collectors.tables import keyset_batches
from concord.clock import FrozenClock
from concord.config import SourceConfig
from concord.errors import SourceError
from concord.sources import Source
from concord.store.schema import runs
from tests.conftest import NOW
from tests.databases import DatabaseFactory
from tests.shop import RULES, checker_for, load_mini_shop, write_config


def test_a_failing_source_backs_off_while_other_rules_go_on(sqlite: DatabaseFactory, tmp_path: Path) -> None:
    orders, payments, inventory = sqlite.new("orders"), sqlite.new("payments"), sqlite.new("inventory")
    load_mini_shop({"orders": orders, "payments": payments, "inventory": inventory})
    config = write_config(tmp_path, {"orders": orders, "payments": payments, "inventory": inventory},
                          [RULES["exists"], RULES["state_values"]])
    clock = FrozenClock(NOW)
    checker, store = checker_for(config, clock)
    Path(inventory.removeprefix("sqlite:///")).unlink()  # the inventory database is gone

    def statuses() -> dict[str, str]:
        return {o.rule: o.status for o in checker.check_once()}

    assert statuses() == {"paid_implies_deducted": "error", "known_status": "ok"}
    assert statuses() == {"paid_implies_deducted": "skipped", "known_status": "ok"}
    assert checker.health["inventory"].failures == 1
    assert checker.health["inventory"].retry_at == NOW + timedelta(seconds=30)
    clock.advance(timedelta(seconds=31))
    assert statuses()["paid_implies_deducted"] == "error"  # tried again, failed again: the wait doubles
    assert checker.health["inventory"].retry_at == clock.now() + timedelta(seconds=60)
    with store.read() as connection:
        skipped = connection.execute(select(runs.c.error).where(runs.c.status == "skipped")).scalars().all()
    assert len(skipped) == 1 and "source 'inventory' is backed off until" in skipped[0]
    checker.close()


def test_reads_stay_under_the_rows_per_second_cap(sqlite: DatabaseFactory) -> None:
    url = sqlite.new("big")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO t VALUES " + ",".join(f"({n})" for n in range(1, 61))))
    engine.dispose()
    source = Source("capped", SourceConfig(url=url, rows_per_second=100, batch_size=10))
    table = source.table("t")
    started = time.monotonic()
    pages = list(keyset_batches(source, select(table), table, ["id"], 10))
    elapsed = time.monotonic() - started
    source.dispose()
    assert sum(len(p) for p in pages) == 60
    assert elapsed >= 0.5  # 60 rows at 100 rows/s: the cap, not the database, set the pace


@pytest.mark.parametrize("server", ["mariadb", "postgres"])
def test_a_timed_out_statement_is_cancelled_on_the_server(server: str, request: pytest.FixtureRequest) -> None:
    factory: DatabaseFactory = request.getfixturevalue(server)
    url = factory.new("slow")
    marker = "concord_cancel_probe"
    slow = (f"SELECT /* {marker} */ COUNT(*) FROM information_schema.columns a, information_schema.columns b, "
            "information_schema.columns c" if server == "mariadb" else f"SELECT /* {marker} */ pg_sleep(30)")
    source = Source("slow", SourceConfig(url=url, statement_timeout=timedelta(seconds=1)))
    with pytest.raises(SourceError), source.connect() as connection:
        connection.execute(text(slow)).all()
    source.dispose()
    admin = create_engine(url)
    activity = ("SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE :m AND info NOT LIKE :self"
                if server == "mariadb" else
                "SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE :m AND query NOT LIKE :self "
                "AND state = 'active'")
    with admin.connect() as connection:
        running = connection.execute(text(activity), {"m": f"%{marker}%", "self": "%information_schema.processlist%"
                                                      if server == "mariadb" else "%pg_stat_activity%"}).scalar()
    admin.dispose()
    assert running == 0  # the server stopped the statement; it was not merely abandoned by the client
