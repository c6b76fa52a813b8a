"""A hand-made mini shop with one known fault per rule kind, loadable into any backend.

The demo's simulator is for scale and scoring; these few rows make each assertion obvious.
Times are naive UTC (the test sources say `timezone: UTC`).
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from checks.engine import Checker
from checks.registry import compile_rules
from concord.clock import FrozenClock
from concord.config import load_config
from concord.store import Store, open_store
from demo.build import create_databases
from tests.conftest import NOW

BASE = NOW.replace(tzinfo=None)


def ago(minutes: float) -> Any:
    return BASE - timedelta(minutes=minutes)


ORDERS = [
    # id, status, total, paid minutes ago
    (1, "PAID", "10.00", 60),      # fine
    (2, "PAID", "20.00", 60),      # never deducted; charged 19.00; went back to PENDING once
    (3, "SHIPPED", "30.00", 60),   # line 1 deducted twice
    (4, "CANCELLED", "40.00", None),  # cancelled but deducted
    (5, "PAID", "50.00", 1),       # paid a minute ago, not deducted yet: inside the grace period
    (6, "LOST", "60.00", 60),      # unknown status; deducted; paid
]
ITEMS = [(1, 1, 1), (2, 1, 2), (3, 1, 1), (3, 2, 4), (4, 1, 1), (5, 1, 1), (6, 1, 3)]
LEDGER = [(1, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 4), (4, 1, 1), (6, 1, 3)]
PAYMENTS = [(1, "10.00", "tx1"), (2, "19.00", "tx2"), (3, "30.00", "tx3"), (6, "60.00", "tx6")]
HISTORY = [(2, None, "PENDING"), (2, "PENDING", "PAID"), (2, "PAID", "PENDING"), (1, None, "PENDING"),
           (1, "PENDING", "PAID"), (3, None, "PENDING"), (3, "PENDING", "PAID"), (3, "PAID", "SHIPPED")]


def load_mini_shop(urls: dict[str, str]) -> None:
    """urls: orders / payments / inventory (the same URL for all three puts the shop in one database)."""
    engines = create_databases(urls) if len(set(urls.values())) == 3 else _one_database(urls)
    with engines["orders"].begin() as connection:
        from demo.schema import order_items, order_status_history, orders

        connection.execute(orders.insert(), [
            {"id": oid, "customer_email": f"secret{oid}@example.com", "customer_phone": f"+1555000{oid}",
             "status": status, "total": Decimal(total), "currency": "EUR", "created_at": ago(120),
             "paid_at": ago(paid) if paid is not None else None, "shipped_at": None,
             "cancelled_at": ago(90) if status == "CANCELLED" else None, "refunded_at": None,
             "updated_at": ago(paid or 90), "trace_id": f"{oid:032x}"}
            for oid, status, total, paid in ORDERS])
        connection.execute(order_items.insert(), [
            {"order_id": o, "line_no": n, "sku": f"S{n}", "quantity": q, "unit_price": Decimal("1.00")}
            for o, n, q in ITEMS])
        connection.execute(order_status_history.insert(), [
            {"id": i + 1, "order_id": o, "from_status": a, "to_status": b, "changed_at": ago(100 - i)}
            for i, (o, a, b) in enumerate(HISTORY)])
    with engines["inventory"].begin() as connection:
        from demo.schema import stock_ledger

        connection.execute(stock_ledger.insert(), [
            {"id": i + 1, "order_id": o, "line_no": n, "sku": f"S{n}", "op": "DEDUCT", "quantity": q,
             "created_at": ago(59 - i)} for i, (o, n, q) in enumerate(LEDGER)])
    with engines["payments"].begin() as connection:
        from demo.schema import payments

        connection.execute(payments.insert(), [
            {"id": o, "order_id": o, "amount": Decimal(a), "currency": "EUR", "status": "SUCCEEDED",
             "gateway_txn_id": t, "created_at": ago(61), "succeeded_at": ago(60), "updated_at": ago(60)}
            for o, a, t in PAYMENTS])
    for engine in engines.values():
        engine.dispose()


def _one_database(urls: dict[str, str]) -> dict[str, Any]:
    from sqlalchemy import create_engine

    from demo.schema import DATABASES

    engine = create_engine(urls["orders"])
    for metadata in DATABASES.values():
        metadata.drop_all(engine)
        metadata.create_all(engine)
    return {name: engine for name in urls}


def write_statement(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["txn_id,type,amount,settled_at"] + [f"{t},CHARGE,{a},{s}" for t, a, s in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_config(directory: Path, urls: dict[str, str], rules: list[dict[str, Any]],
                 store_url: str | None = None, mask: tuple[str, ...] = ("customer_email", "customer_phone")) -> Path:
    """A concord.yaml (JSON is YAML) with the three shop sources and the given rules."""
    config = {
        "dashboard_url": "https://concord.test",
        "store": {"url": store_url or f"sqlite:///{directory / 'store.db'}"},
        "sources": {
            "orders": {"url": urls["orders"], "timezone": "UTC", "mask": list(mask), "batch_size": 2},
            "payments": {"url": urls["payments"], "batch_size": 2},
            "inventory": {"url": urls["inventory"], "batch_size": 2},
        },
        "rules": rules,
    }
    path = directory / "concord.yaml"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def checker_for(path: Path, clock: FrozenClock | None = None) -> tuple[Checker, Store]:
    config, document = load_config(path)
    store = open_store(config.store.url, config.base_dir)
    return Checker(config, compile_rules(config, document), store, clock or FrozenClock(NOW)), store


RULES: dict[str, dict[str, Any]] = {
    "exists": {"name": "paid_implies_deducted", "kind": "exists", "grace": "5m",
               "driver": {"source": "orders", "table": "orders", "key": "id",
                          "where": "status IN ('PAID', 'SHIPPED')", "time_column": "paid_at"},
               "target": {"source": "inventory", "table": "stock_ledger", "match": {"order_id": "id"},
                          "where": "op = 'DEDUCT'"},
               "trace": {"column": "trace_id"}},
    "not_exists": {"name": "cancelled_not_deducted", "kind": "not_exists",
                   "driver": {"source": "orders", "table": "orders", "key": "id", "where": "status = 'CANCELLED'"},
                   "target": {"source": "inventory", "table": "stock_ledger", "match": {"order_id": "id"},
                              "where": "op = 'DEDUCT'"}},
    "match": {"name": "amount_equals_total", "kind": "match", "tolerance": 0.005,
              "driver": {"source": "payments", "table": "payments", "key": "order_id", "value": "amount",
                         "time_column": "succeeded_at"},
              "target": {"source": "orders", "table": "orders", "match": {"id": "order_id"}, "value": "total"}},
    "match_aggregate": {"name": "deducted_equals_ordered", "kind": "match",
                        "driver": {"source": "inventory", "table": "stock_ledger", "key": "order_id",
                                   "where": "op = 'DEDUCT'", "value": "sum(quantity)", "time_column": "created_at"},
                        "target": {"source": "orders", "table": "order_items", "match": {"order_id": "order_id"},
                                   "value": "sum(quantity)"}},
    "unique": {"name": "one_deduct_per_line", "kind": "unique", "source": "inventory", "table": "stock_ledger",
               "key": ["order_id", "line_no"], "where": "op = 'DEDUCT'", "time_column": "created_at"},
    "state_values": {"name": "known_status", "kind": "state", "source": "orders", "table": "orders", "key": "id",
                     "column": "status", "allowed": ["PENDING", "PAID", "SHIPPED", "CANCELLED", "REFUNDED"]},
    "state_transitions": {"name": "forward_only", "kind": "state", "source": "orders", "key": "order_id",
                          "transitions": {"table": "order_status_history", "key": "order_id",
                                          "to_column": "to_status", "order_by": "changed_at",
                                          "initial": ["PENDING"],
                                          "allowed": {"PENDING": ["PAID", "CANCELLED"], "PAID": ["SHIPPED"]}}},
    "sql": {"name": "paid_without_payment", "kind": "sql", "source": "payments", "key": "order_id",
            "sql": "SELECT order_id, amount FROM payments WHERE amount < 20 AND succeeded_at <= :cutoff"},
}

EXPECTED: dict[str, set[tuple]] = {
    "exists": {(2,)},  # 5 is inside its grace period; 6 is 'LOST', outside the driver's filter
    "not_exists": {(4,)},
    "match": {(2,)},
    "match_aggregate": {(3,)},
    "unique": {(3, 1)},
    "state_values": {(6,)},
    "state_transitions": {(2,)},
    "sql": {(1,), (2,)},
}
