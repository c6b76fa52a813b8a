"""Benchmark data at scale: a shop of N orders bulk-loaded into MariaDB (LOAD DATA) and, for the
cross-source cases, its stock ledger into PostgreSQL (COPY). Databases are named by size and seed and
reused across runs; a load that did not finish is redone."""

from __future__ import annotations

import csv
import random
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pymysql

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
POSTGRES = "host=127.0.0.1 port=5432 user=postgres"
START = datetime(2026, 1, 1)
BYTES_PER_ORDER = 400  # rows of all four tables with their indexes, both servers


def database_name(orders: int, seed: int, kind: str = "shop") -> str:
    return f"concord_bench_{kind}_{orders}_{seed}"


def mariadb_url(name: str) -> str:
    return f"mysql+pymysql://root@127.0.0.1:3306/{name}"


def postgres_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def check_disk(orders: int, where: Path) -> None:
    needed = orders * BYTES_PER_ORDER * 2
    free = shutil.disk_usage(where).free
    if free < needed:
        raise SystemExit(f"bench: {orders:,} orders need about {needed / 1e9:.1f} GB free, {where} has "
                         f"{free / 1e9:.1f} GB; free some space or lower SIZES")


def ensure_shop(orders: int, seed: int, orders_only: bool = False) -> str:
    """The MariaDB database holding the shop (loading it when missing); returns its name."""
    name = database_name(orders, seed, "orders" if orders_only else "shop")
    connection = pymysql.connect(**MARIADB, local_infile=True, autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND "
                       "table_name = 'load_complete'", (name,))
        if cursor.fetchone()[0]:
            connection.close()
            return name
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"CREATE DATABASE {name}")
        cursor.execute(f"USE {name}")
        for ddl in SCHEMA if not orders_only else SCHEMA[:1]:
            cursor.execute(ddl)
        work = Path(tempfile.mkdtemp(prefix="concord-scale-"))
        files = write_csv(work, orders, seed, orders_only)
        for table, path in files.items():
            cursor.execute(f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} FIELDS TERMINATED BY ',' "
                           "LINES TERMINATED BY '\\n'")
        for index in INDEXES if not orders_only else INDEXES[:2]:
            cursor.execute(index)
        cursor.execute("CREATE TABLE load_complete (at DATETIME)")
        shutil.rmtree(work)
    connection.close()
    return name


def ensure_ledger_in_postgres(orders: int, seed: int) -> str:
    """The shop's stock ledger (and payments) copied into PostgreSQL, for the cross-source cases."""
    name = database_name(orders, seed, "stock")
    with psycopg.connect(POSTGRES + " dbname=postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            with psycopg.connect(POSTGRES + f" dbname={name}") as db:
                if db.execute("SELECT to_regclass('load_complete')").fetchone()[0]:
                    return name
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    source = pymysql.connect(**MARIADB, database=database_name(orders, seed))
    with psycopg.connect(POSTGRES + f" dbname={name}") as db:
        db.execute("CREATE TABLE stock_ledger (id BIGINT PRIMARY KEY, order_id BIGINT, line_no INT, op VARCHAR(10), "
                   "quantity INT, created_at TIMESTAMP)")
        db.execute("CREATE TABLE payments (id BIGINT PRIMARY KEY, order_id BIGINT, amount NUMERIC(12,2), "
                   "status VARCHAR(12))")
        for table, columns in (("stock_ledger", "id, order_id, line_no, op, quantity, created_at"),
                               ("payments", "id, order_id, amount, status")):
            with source.cursor(pymysql.cursors.SSCursor) as cursor, \
                    db.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                cursor.execute(f"SELECT {columns} FROM {table}")
                for row in cursor:
                    copy.write_row(row)
        db.execute("CREATE INDEX ix_ledger_order ON stock_ledger (order_id)")
        db.execute("CREATE INDEX ix_payments_order ON payments (order_id)")
        db.execute("CREATE TABLE load_complete (at TIMESTAMP)")
        db.execute("ANALYZE")
    source.close()
    return name


def ensure_changed_payments(orders: int, seed: int) -> str:
    """`payments_changed` in the PostgreSQL copy: the payments with 0.1% of amounts updated (every
    1000th id, plus one cent), the cross-server equality case both Concord and reladiff look for."""
    name = ensure_ledger_in_postgres(orders, seed)
    with psycopg.connect(POSTGRES + f" dbname={name}") as db:
        if db.execute("SELECT to_regclass('payments_changed_complete')").fetchone()[0]:
            return name
        db.execute("DROP TABLE IF EXISTS payments_changed")
        db.execute("CREATE TABLE payments_changed AS SELECT * FROM payments")
        db.execute("ALTER TABLE payments_changed ADD PRIMARY KEY (id)")
        db.execute("UPDATE payments_changed SET amount = amount + 0.01 WHERE id % 1000 = 500")
        db.execute("CREATE TABLE payments_changed_complete (at TIMESTAMP)")
        db.execute("ANALYZE payments_changed")
    return name


def write_csv(work: Path, orders: int, seed: int, orders_only: bool) -> dict[str, Path]:
    """Every 100th paid order was never deducted; every 1000th payment differs from its order total."""
    rng = random.Random(seed)
    paths = {t: work / f"{t}.csv" for t in (("orders",) if orders_only else TABLES)}
    handles = {t: p.open("w", newline="") for t, p in paths.items()}
    writers = {t: csv.writer(h, lineterminator="\n") for t, h in handles.items()}
    ledger_id = 0
    step = (365 * 86400) / orders
    for order in range(1, orders + 1):
        created = START + timedelta(seconds=order * step)
        status = "PAID" if rng.random() < 0.9 else "CANCELLED"
        lines = rng.randint(1, 3)
        total = 0
        if not orders_only:
            for line in range(1, lines + 1):
                quantity = rng.randint(1, 3)
                total += quantity * 1000
                writers["order_items"].writerow([order, line, quantity])
                if status == "PAID" and order % 100:
                    ledger_id += 1
                    writers["stock_ledger"].writerow([ledger_id, order, line, "DEDUCT", quantity,
                                                      (created + timedelta(seconds=30)).isoformat(sep=" ")])
            amount = total / 100 + (1 if order % 1000 == 0 else 0)
            writers["payments"].writerow([order, order, f"{amount:.2f}", "SUCCEEDED" if status == "PAID" else "FAILED"])
        paid = (created + timedelta(seconds=10)).isoformat(sep=" ") if status == "PAID" else "\\N"
        writers["orders"].writerow([order, status, f"{total / 100:.2f}", created.isoformat(sep=" "), paid])
    for handle in handles.values():
        handle.close()
    return paths


TABLES = ("orders", "order_items", "payments", "stock_ledger")
SCHEMA = [
    "CREATE TABLE orders (id BIGINT PRIMARY KEY, status VARCHAR(12), total DECIMAL(12,2), created_at DATETIME, "
    "paid_at DATETIME NULL)",
    "CREATE TABLE order_items (order_id BIGINT, line_no INT, quantity INT, PRIMARY KEY (order_id, line_no))",
    "CREATE TABLE payments (id BIGINT PRIMARY KEY, order_id BIGINT, amount DECIMAL(12,2), status VARCHAR(12))",
    "CREATE TABLE stock_ledger (id BIGINT PRIMARY KEY, order_id BIGINT, line_no INT, op VARCHAR(10), "
    "quantity INT, created_at DATETIME)",
]
INDEXES = [
    "CREATE INDEX ix_orders_paid_at ON orders (paid_at)",
    "CREATE INDEX ix_orders_status ON orders (status)",
    "CREATE INDEX ix_payments_order ON payments (order_id)",
    "CREATE INDEX ix_ledger_order ON stock_ledger (order_id, line_no)",
    "CREATE INDEX ix_ledger_created ON stock_ledger (created_at)",
]
