"""Every rule kind finds exactly the planted faults, on SQLite, MariaDB and PostgreSQL, whether its
tables share one source (one pushed-down query) or sit in separate sources (keyset batches + lookups)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from concord.keys import decode_key
from concord.store.schema import violations
from tests.databases import DatabaseFactory
from tests.shop import EXPECTED, RULES, checker_for, load_mini_shop, write_config, write_statement


def found_keys(store, rule: str) -> set[tuple]:
    with store.read() as connection:
        return {decode_key(k) for k in connection.execute(
            select(violations.c.key_text).where(violations.c.rule == rule, violations.c.status == "open")).scalars()}


@pytest.mark.parametrize("layout", ["one_source", "three_sources"])
def test_each_kind_finds_exactly_its_faults(backend: DatabaseFactory, tmp_path: Path, layout: str) -> None:
    if layout == "one_source":
        url = backend.new("shop")
        urls = {"orders": url, "payments": url, "inventory": url}
    else:
        urls = {name: backend.new(name) for name in ("orders", "payments", "inventory")}
    load_mini_shop(urls)
    checker, store = checker_for(write_config(tmp_path, urls, list(RULES.values())))
    try:
        outcomes = checker.check_once()
        assert [o.error for o in outcomes if o.status != "ok"] == []
        found = {kind: found_keys(store, rule["name"]) for kind, rule in RULES.items()}
    finally:
        checker.close()
    assert found == EXPECTED


def test_cross_source_rule_with_orders_in_mariadb_and_stock_in_postgres(
        mariadb: DatabaseFactory, postgres: DatabaseFactory, tmp_path: Path) -> None:
    urls = {"orders": mariadb.new("orders"), "payments": mariadb.new("payments"), "inventory": postgres.new("stock")}
    load_mini_shop(urls)
    rules = [RULES["exists"], RULES["not_exists"], RULES["match_aggregate"]]
    checker, store = checker_for(write_config(tmp_path, urls, rules))
    try:
        outcomes = checker.check_once()
        assert all(o.status == "ok" for o in outcomes), [o.error for o in outcomes]
        assert found_keys(store, "paid_implies_deducted") == EXPECTED["exists"]
        assert found_keys(store, "cancelled_not_deducted") == EXPECTED["not_exists"]
        assert found_keys(store, "deducted_equals_ordered") == EXPECTED["match_aggregate"]
    finally:
        checker.close()


def test_two_column_key_is_stored_and_rechecked_as_both_columns(backend: DatabaseFactory, tmp_path: Path) -> None:
    url = backend.new("shop")
    urls = {"orders": url, "payments": url, "inventory": url}
    load_mini_shop(urls)
    checker, store = checker_for(write_config(tmp_path, urls, [RULES["unique"]]))
    try:
        checker.check_once()
        with store.read() as connection:
            row = connection.execute(select(violations.c.key_text, violations.c.key_display)).one()
        assert (row.key_text, row.key_display) == ("[3,1]", "order_id=3, line_no=1")
        recheck = checker.recheck(checker.kinds[0])
        assert recheck is not None and recheck.status == "ok" and recheck.findings == 1 and recheck.resolved == 0
    finally:
        checker.close()


def test_statement_reconciles_both_ways_with_amounts(backend: DatabaseFactory, tmp_path: Path) -> None:
    url = backend.new("shop")
    urls = {"orders": url, "payments": url, "inventory": url}
    load_mini_shop(urls)
    settled = "2026-11-20T10:59:00+00:00"
    write_statement(tmp_path / "statement.csv", [
        ("tx1", "10.00", settled),     # matches
        ("tx2", "20.00", settled),     # local says 19.00
        ("tx3", "30.00", settled),     # matches
        ("tx9", "99.00", settled),     # no local payment at all
    ])                                 # tx6 is local but missing from the statement
    rule = {"name": "statement", "kind": "statement", "grace": "10m", "tolerance": 0.005,
            "statement": {"file": "statement.csv", "key": "txn_id", "amount": "amount", "time_column": "settled_at",
                          "filter": {"type": "CHARGE"}},
            "local": {"source": "payments", "table": "payments", "key": "gateway_txn_id", "amount": "amount",
                      "where": "status = 'SUCCEEDED'", "time_column": "succeeded_at"}}
    checker, store = checker_for(write_config(tmp_path, urls, [rule]))
    try:
        checker.check_once()
        assert found_keys(store, "statement") == {("tx2",), ("tx6",), ("tx9",)}
    finally:
        checker.close()
