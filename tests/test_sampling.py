"""Sampled runs: drawn in the database by index probes, reproducible by seed, with a Wilson interval;
the rows the database reads grow with the sample, not with the window (MariaDB's handler counters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from checks.registry import compile_rules
from collectors.sampling import probe_sample, wilson_interval
from collectors.tables import Window
from concord.clock import FrozenClock
from concord.config import SourceConfig, load_config
from concord.errors import ConfigError
from concord.sources import Source
from concord.store.schema import runs, violations
from tests.databases import DatabaseFactory
from tests.shop import checker_for, write_config

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def fill(url: str, orders: int, every: int = 10) -> None:
    """`orders` paid orders over the last day; every `every`-th one has no deduction."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE orders (id INTEGER PRIMARY KEY, status VARCHAR(10), paid_at TIMESTAMP)"))
        connection.execute(text("CREATE INDEX ix_paid ON orders (paid_at)"))
        connection.execute(text("CREATE TABLE ledger (id INTEGER PRIMARY KEY, order_id INTEGER)"))
        connection.execute(text("CREATE INDEX ix_ledger_order ON ledger (order_id)"))
        start = NOW.replace(tzinfo=None) - timedelta(days=1)
        step = 86_000 / orders
        connection.execute(text("INSERT INTO orders VALUES (:id, 'PAID', :at)"),
                           [{"id": n, "at": start + timedelta(seconds=n * step)} for n in range(1, orders + 1)])
        connection.execute(text("INSERT INTO ledger VALUES (:id, :id)"),
                           [{"id": n} for n in range(1, orders + 1) if n % every])
    engine.dispose()


RULE = {"name": "sampled_paid_implies_deducted", "kind": "exists", "grace": "5m",
        "sample": {"size": 300, "seed": 7, "window": "1d"},
        "driver": {"source": "orders", "table": "orders", "key": "id", "where": "status = 'PAID'",
                   "time_column": "paid_at"},
        "target": {"source": "inventory", "table": "ledger", "match": {"order_id": "id"}}}


def test_wilson_interval_matches_the_textbook() -> None:
    low, high = wilson_interval(5, 100)
    assert (round(low, 4), round(high, 4)) == (0.0215, 0.1118)
    assert wilson_interval(0, 100)[0] == 0.0 and wilson_interval(0, 0) == (0.0, 1.0)


def test_a_sampled_rule_estimates_the_rate_reproducibly(backend: DatabaseFactory, tmp_path: Path) -> None:
    url = backend.new("sample")
    fill(url, 3000)
    config = write_config(tmp_path, {"orders": url, "payments": url, "inventory": url}, [RULE])
    found = []
    for _attempt in range(2):
        checker, store = checker_for(config, FrozenClock(NOW))
        (outcome,) = [o for o in checker.check_once() if o.scope == "sample"]
        checker.close()
        assert outcome.status == "ok" and outcome.estimate is not None
        estimate = outcome.estimate
        assert estimate.sampled == 300 and estimate.low <= 0.10 <= estimate.high
        with store.read() as connection:
            run = connection.execute(select(runs).where(runs.c.id == outcome.run_id)).one()
            keys = set(connection.execute(select(violations.c.key_text)).scalars())
        store.dispose()
        assert (run.sampled, run.sample_failing) == (300, estimate.failing)
        assert all(int(k.strip("[]")) % 10 == 0 for k in keys)  # only true violations, only sampled ones
        found.append((estimate.failing, keys))
        (tmp_path / "store.db").unlink()
    assert found[0] == found[1]  # the same seed draws the same sample


def test_sampling_a_kind_that_cannot_be_sampled_is_a_config_error(tmp_path: Path) -> None:
    rule = {"name": "u", "kind": "unique", "source": "orders", "table": "t", "key": "id", "sample": {"size": 5}}
    config = write_config(tmp_path, {"orders": "sqlite:///x.db", "payments": "sqlite:///x.db",
                                     "inventory": "sqlite:///x.db"}, [rule])
    loaded, document = load_config(config)
    with pytest.raises(ConfigError, match="cannot be sampled"):
        compile_rules(loaded, document)


def handler_reads(source: Source) -> int:
    with source.connect() as connection:
        rows = connection.execute(text("SHOW SESSION STATUS LIKE 'Handler_read%'")).all()
    return sum(int(value) for _name, value in rows)


def test_rows_read_grow_with_the_sample_not_the_window(mariadb: DatabaseFactory) -> None:
    reads = {}
    for orders in (5_000, 50_000):
        url = mariadb.new(f"probe{orders}")
        fill(url, orders)
        source = Source("orders", SourceConfig(url=url, pool_size=1))  # one connection: one session's counters
        table = source.table("orders")
        window = Window(NOW - timedelta(days=1, hours=1), NOW)
        before = handler_reads(source)
        rows = probe_sample(source, table, ["id"], "paid_at", window, [], 100, seed=3)
        reads[orders] = handler_reads(source) - before
        source.dispose()
        assert len(rows) == 100
    # ten times the rows in the window, about the same rows read: one index seek (and a step) per probe
    print(f"handler reads for a 100-row sample: {reads}")
    assert reads[50_000] < 2 * reads[5_000] and reads[50_000] < 1_000, reads
