"""One benchmark case in a process of its own, so its peak memory is its own: prints one JSON line.

`python -m bench.child concord-exists ORDERS_URL STOCK_URL` · `python -m bench.child naive-pandas MARIADB_DB PG_DB`
· `python -m bench.child concord-incremental ORDERS_URL WATERMARK NOW`
· `python -m bench.child concord-payments-exist URL URL`
· `python -m bench.child concord-payments-match MARIADB_URL PG_URL`
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.peers.rss import peak_mb

RULE = {"name": "paid_implies_deducted", "kind": "exists",
        "driver": {"source": "orders", "table": "orders", "key": "id", "where": "status = 'PAID'",
                   "time_column": "paid_at"},
        "target": {"source": "stock", "table": "stock_ledger", "match": {"order_id": "id"},
                   "where": "op = 'DEDUCT'"}}


# Compared with Soda Core's `values in (order_id) must exist in stock_ledger (order_id)` on payments.
PAYMENT_HAS_MOVEMENT = {"name": "payment_has_stock_movement", "kind": "exists",
                        "driver": {"source": "orders", "table": "payments", "key": "id"},
                        "target": {"source": "stock", "table": "stock_ledger", "match": {"order_id": "order_id"}}}

# Compared with reladiff: payments in MariaDB against their copy in PostgreSQL, on the amount.
PAYMENT_COPY_MATCHES = {"name": "payment_copy_matches", "kind": "match",
                        "driver": {"source": "orders", "table": "payments", "key": "id", "value": "amount"},
                        "target": {"source": "stock", "table": "payments_changed", "match": {"id": "id"},
                                   "value": "amount"}}

WINDOWED = {"name": "known_status_in_window", "kind": "state", "source": "orders", "table": "orders", "key": "id",
            "column": "status", "allowed": ["PAID", "PENDING"], "where": "paid_at IS NOT NULL",
            "time_column": "paid_at"}


def concord(orders_url: str, stock_url: str, full: bool, watermark: str | None = None,
            now: str | None = None, rule: dict | None = None, with_keys: bool = False) -> dict:
    from sqlalchemy import select

    from checks.engine import Checker
    from checks.registry import compile_rules
    from concord.clock import FrozenClock
    from concord.config import load_config
    from concord.store import open_store
    from concord.store.runs import set_watermark
    from concord.store.schema import violations

    work = Path(tempfile.mkdtemp(prefix="concord-case-"))
    rule = dict(rule or RULE, overlap="0s")
    config_path = work / "concord.yaml"
    config_path.write_text(json.dumps({
        "store": {"url": f"sqlite:///{work / 'store.db'}"},
        "sources": {"orders": {"url": orders_url, "statement_timeout": "10m", "batch_size": 5000},
                    "stock": {"url": stock_url, "statement_timeout": "10m", "batch_size": 5000}},
        "rules": [rule]}))
    config, document = load_config(config_path)
    store = open_store(config.store.url, config.base_dir)
    clock = FrozenClock(datetime.fromisoformat(now) if now else datetime(2027, 1, 1))
    if watermark:
        with store.begin() as connection:
            set_watermark(connection, rule["name"], datetime.fromisoformat(watermark), clock.now())
    checker = Checker(config, compile_rules(config, document), store, clock)
    started = time.perf_counter()
    (outcome,) = [o for o in checker.check_once(full=full) if o.scope in ("full", "incremental")]
    seconds = time.perf_counter() - started
    checker.close()
    assert outcome.status == "ok", outcome.error
    result = {"seconds": seconds, "count": outcome.findings, "rows": outcome.rows_checked}
    if with_keys:
        with store.read() as connection:
            texts = connection.execute(select(violations.c.key_text)).scalars()
            result["keys"] = sorted(json.loads(text)[0] for text in texts)
    return result


def naive(mariadb_db: str, postgres_db: str) -> dict:
    """What a user writes first: read both tables whole with pandas and merge them."""
    import pandas as pd
    import psycopg
    import pymysql

    started = time.perf_counter()
    orders = pd.read_sql("SELECT id, status FROM orders",
                         pymysql.connect(host="127.0.0.1", user="root", database=mariadb_db))
    ledger = pd.read_sql("SELECT order_id, op FROM stock_ledger",
                         psycopg.connect(f"host=127.0.0.1 user=postgres dbname={postgres_db}"))
    paid = orders[orders.status == "PAID"]
    deducted = ledger[ledger.op == "DEDUCT"].drop_duplicates("order_id")
    merged = paid.merge(deducted, left_on="id", right_on="order_id", how="left", indicator=True)
    missing = merged[merged["_merge"] == "left_only"]
    return {"seconds": time.perf_counter() - started, "count": int(len(missing))}


if __name__ == "__main__":
    case, *args = sys.argv[1:]
    if case == "concord-exists":
        result = concord(args[0], args[1], full=True)
    elif case == "concord-incremental":
        result = concord(args[0], args[0], full=False, watermark=args[1], now=args[2], rule=WINDOWED)
    elif case == "concord-payments-exist":
        result = concord(args[0], args[1], full=True, rule=PAYMENT_HAS_MOVEMENT)
    elif case == "concord-payments-match":
        result = concord(args[0], args[1], full=True, rule=PAYMENT_COPY_MATCHES, with_keys=True)
    elif case == "naive-pandas":
        result = naive(args[0], args[1])
    else:
        raise SystemExit(f"unknown case {case}")
    result["peak_mb"] = peak_mb()
    print(json.dumps(result))
