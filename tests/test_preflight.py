"""`concord validate --connect` on every backend: missing tables and columns are errors, unindexed
key, time and lookup columns are warnings."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from concord.cli import main
from tests.databases import DatabaseFactory
from tests.shop import RULES, load_mini_shop, write_config


def test_preflight_reports_missing_parts_and_indexes(backend: DatabaseFactory, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    url = backend.new("shop")
    urls = {"orders": url, "payments": url, "inventory": url}
    load_mini_shop(urls)
    engine = create_engine(url)
    with engine.begin() as connection:  # a table as many real ones are: no index on what rules use
        connection.execute(text("CREATE TABLE audit_log (id INTEGER, order_id INTEGER, at TIMESTAMP)"))
    engine.dispose()
    rules = [
        RULES["exists"],
        {"name": "audited", "kind": "unique", "source": "orders", "table": "audit_log", "key": "order_id",
         "time_column": "at"},
        {"name": "ghost", "kind": "unique", "source": "orders", "table": "no_such_table", "key": "id"},
        {"name": "typo", "kind": "unique", "source": "orders", "table": "orders", "key": "idd"},
    ]
    config = write_config(tmp_path, urls, rules)
    assert main(["validate", "--connect", "--config", str(config)]) == 2
    out = capsys.readouterr()
    assert "ok: rule paid_implies_deducted: orders.orders" in out.out
    assert "warning: rule audited: orders.audit_log: no index starts with (order_id)" in out.out
    assert "warning: rule audited: orders.audit_log: no index starts with (at)" in out.out
    assert "error: rule ghost: orders.no_such_table: the table does not exist" in out.err
    assert "error: rule typo: orders.orders: no column idd" in out.err


def test_explain_prints_each_query_and_the_database_plan(backend: DatabaseFactory, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    shop, stock = backend.new("shop"), backend.new("stock")
    urls = {"orders": shop, "payments": backend.new("pay"), "inventory": stock}
    load_mini_shop(urls)
    config = write_config(tmp_path, urls, [RULES["exists"], RULES["unique"], RULES["match_aggregate"],
                                           RULES["state_transitions"], RULES["sql"]])
    for rule in ("paid_implies_deducted", "one_deduct_per_line", "deducted_equals_ordered", "forward_only",
                 "paid_without_payment"):
        assert main(["explain", rule, "--config", str(config)]) == 0
        out = capsys.readouterr().out
        assert out.count("-- plan:") >= 1 and "SELECT" in out and "EXPLAIN failed" not in out, out
    assert main(["explain", "paid_implies_deducted", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "on source 'orders': driver keys, one keyset page" in out
    assert "on source 'inventory': which keys of a page have a target row" in out
