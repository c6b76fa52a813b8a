"""The shop's three service databases, as portable SQLAlchemy tables (SQLite, MariaDB, PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, Numeric, String, Table

orders_db = MetaData()
payments_db = MetaData()
inventory_db = MetaData()


orders = Table(
    "orders", orders_db,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_email", String(200), nullable=False),
    Column("customer_phone", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("total", Numeric(12, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("paid_at", DateTime),
    Column("shipped_at", DateTime),
    Column("cancelled_at", DateTime),
    Column("refunded_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
    Column("trace_id", String(32)),
    Index("ix_orders_paid_at", "paid_at"),
    Index("ix_orders_refunded_at", "refunded_at"),
    Index("ix_orders_cancelled_at", "cancelled_at"),
    Index("ix_orders_updated_at", "updated_at"),
    Index("ix_orders_status", "status"),
)

order_items = Table(
    "order_items", orders_db,
    Column("order_id", Integer, primary_key=True, autoincrement=False),
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("sku", String(32), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Numeric(12, 2), nullable=False),
)

order_status_history = Table(
    "order_status_history", orders_db,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, nullable=False),
    Column("from_status", String(20)),
    Column("to_status", String(20), nullable=False),
    Column("changed_at", DateTime, nullable=False),
    Index("ix_history_order", "order_id", "changed_at"),
    Index("ix_history_changed_at", "changed_at"),
)

payments = Table(
    "payments", payments_db,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("gateway_txn_id", String(40), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("succeeded_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_payments_order", "order_id"),
    Index("ix_payments_succeeded_at", "succeeded_at"),
    Index("ix_payments_status_created", "status", "created_at"),
)

refunds = Table(
    "refunds", payments_db,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("payment_id", Integer, nullable=False),
    Column("order_id", Integer, nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_refunds_order", "order_id"),
)

stock_ledger = Table(
    "stock_ledger", inventory_db,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("sku", String(32), nullable=False),
    Column("op", String(10), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_ledger_order", "order_id", "line_no"),
    Index("ix_ledger_created_at", "created_at"),
)

DATABASES = {"orders": orders_db, "payments": payments_db, "inventory": inventory_db}
TABLE_DB = {table.name: db for db, metadata in DATABASES.items() for table in metadata.tables.values()}
TABLES = {table.name: table for metadata in DATABASES.values() for table in metadata.tables.values()}
