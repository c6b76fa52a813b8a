"""Beyond one machine: with a federating engine (Trino) as the source, every SQL-built rule kind becomes
one query in Trino's dialect, and a rule over two catalogs is one SELECT reading both (no server here:
the statements are compiled with SQLAlchemy's trino dialect and parsed back with sqlglot)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlglot
from sqlalchemy import Column, DateTime, Integer, MetaData, Numeric, String, Table
from sqlalchemy.sql.elements import quoted_name
from sqlglot import exp

from checks.model import RunContext
from checks.registry import compile_rules
from collectors.tables import Scope, Window
from concord.config import SourceConfig, load_config
from concord.sources import Source
from tests.conftest import NOW

ORDERS, LEDGER, ITEMS, HISTORY = "mysql.shop", "postgresql.stock", "mysql.shop", "mysql.shop"
BOTH = {"mysql", "postgresql"}
CATALOGS = {"paid_implies_deducted": BOTH, "cancelled_not_deducted": BOTH, "deducted_equals_ordered": BOTH,
            "one_deduct_per_line": {"postgresql"}, "forward_only": {"mysql"}}
RULES = [
    {"name": "paid_implies_deducted", "kind": "exists", "grace": "5m",
     "driver": {"source": "lake", "table": "orders", "schema": ORDERS, "key": "id", "where": "status = 'PAID'",
                "time_column": "paid_at"},
     "target": {"source": "lake", "table": "stock_ledger", "schema": LEDGER, "match": {"order_id": "id"},
                "where": "op = 'DEDUCT'"}},
    {"name": "cancelled_not_deducted", "kind": "not_exists",
     "driver": {"source": "lake", "table": "orders", "schema": ORDERS, "key": "id", "where": "status = 'CANCELLED'"},
     "target": {"source": "lake", "table": "stock_ledger", "schema": LEDGER, "match": {"order_id": "id"}}},
    {"name": "deducted_equals_ordered", "kind": "match",
     "driver": {"source": "lake", "table": "stock_ledger", "schema": LEDGER, "key": "order_id",
                "value": "sum(quantity)", "time_column": "created_at"},
     "target": {"source": "lake", "table": "order_items", "schema": ITEMS, "match": {"order_id": "order_id"},
                "value": "sum(quantity)"}},
    {"name": "one_deduct_per_line", "kind": "unique", "source": "lake", "table": "stock_ledger", "schema": LEDGER,
     "key": ["order_id", "line_no"], "where": "op = 'DEDUCT'", "time_column": "created_at"},
    {"name": "forward_only", "kind": "state", "source": "lake", "key": "order_id",
     "transitions": {"table": "order_status_history", "schema": HISTORY, "key": "order_id",
                     "to_column": "to_status", "order_by": "changed_at", "allowed": {"PENDING": ["PAID"]}}},
]


def trino_source() -> Source:
    source = Source("lake", SourceConfig(url="trino://concord@trino.example:8080/system"))
    metadata = MetaData()

    def table(name: str, schema: str, *columns: Column) -> None:
        source._tables[(schema, name)] = Table(name, metadata, *columns, schema=quoted_name(schema, quote=False))  # noqa: SLF001

    table("orders", ORDERS, Column("id", Integer), Column("status", String), Column("paid_at", DateTime),
          Column("total", Numeric))
    table("stock_ledger", LEDGER, Column("id", Integer), Column("order_id", Integer), Column("line_no", Integer),
          Column("op", String), Column("quantity", Integer), Column("created_at", DateTime))
    table("order_items", ITEMS, Column("order_id", Integer), Column("line_no", Integer), Column("quantity", Integer))
    table("order_status_history", HISTORY, Column("order_id", Integer), Column("to_status", String),
          Column("changed_at", DateTime))
    return source


@pytest.fixture
def kinds(tmp_path: Path):
    path = tmp_path / "concord.yaml"
    path.write_text(json.dumps({"sources": {"lake": {"url": "trino://concord@trino.example:8080/system"}},
                                "rules": RULES}))
    config, document = load_config(path)
    return {kind.name: kind for kind in compile_rules(config, document)}


@pytest.mark.parametrize("rule", [r["name"] for r in RULES])
def test_each_kind_is_one_trino_select(kinds, rule: str) -> None:
    source = trino_source()
    context = RunContext(sources={"lake": source}, scope=Scope("incremental", Window(NOW.replace(day=19), NOW)),
                         now=NOW)
    planned = [p for p in kinds[rule].plan(context) if "covered" not in p.purpose]
    assert len(planned) == 1, [p.purpose for p in planned]
    sql = str(planned[0].statement.compile(dialect=source.engine.dialect))
    statements = sqlglot.parse(sql, read="trino")
    assert len(statements) == 1 and isinstance(statements[0], exp.Select), sql
    catalogs = {table.catalog for table in statements[0].find_all(exp.Table)}
    assert catalogs == CATALOGS[rule], sql
    source.dispose()
