"""Writing the simulated shop into real databases (SQLite files, MariaDB or PostgreSQL) and the statement CSV.

The orders service keeps local time (Asia/Shanghai, as the config says); payments and inventory
keep UTC, so the demo also exercises per-source time zones.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, create_engine
from sqlalchemy.engine import Engine

from demo.schema import DATABASES, TABLE_DB, TABLES
from demo.timeline import PRIMARY_KEYS

ORDERS_TIMEZONE = "Asia/Shanghai"
_ZONES = {"orders": ZoneInfo(ORDERS_TIMEZONE), "payments": ZoneInfo("UTC"), "inventory": ZoneInfo("UTC")}
CHUNK = 2000


def sqlite_urls(directory: Path) -> dict[str, str]:
    return {name: f"sqlite:///{(directory / f'{name}.db').resolve()}" for name in DATABASES}


def create_databases(urls: dict[str, str]) -> dict[str, Engine]:
    """Fresh schemas in each service database (existing shop tables are dropped)."""
    engines = {}
    for name, metadata in DATABASES.items():
        engine = create_engine(urls[name])
        metadata.drop_all(engine)
        metadata.create_all(engine)
        engines[name] = engine
    return engines


def write_rows(engines: dict[str, Engine], changes: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    """Apply inserts, updates and deletes per table, in bulk."""
    for table_name, change in changes.items():
        if table_name not in TABLES:
            continue
        table, database = TABLES[table_name], TABLE_DB[table_name]
        zone = _ZONES[database]
        keys = PRIMARY_KEYS[table_name]
        with engines[database].begin() as connection:
            for chunk in _chunks([_local(row, zone) for row in change["insert"]]):
                connection.execute(table.insert(), chunk)
            if change["update"]:
                statement = table.update().where(and_(*[table.c[k] == bindparam(f"pk_{k}") for k in keys])) \
                    .values({c.name: bindparam(c.name) for c in table.columns if c.name not in keys})
                rows = [{**_local(row, zone), **{f"pk_{k}": row[k] for k in keys}} for row in change["update"]]
                for chunk in _chunks([{k: v for k, v in r.items() if k not in keys} for r in rows]):
                    connection.execute(statement, chunk)
            if change["delete"]:
                statement = table.delete().where(and_(*[table.c[k] == bindparam(f"pk_{k}") for k in keys]))
                connection.execute(statement, [{f"pk_{k}": row[k] for k in keys} for row in change["delete"]])


def write_statement(path: Path, charges: Iterable[dict[str, Any]]) -> int:
    rows = sorted(charges, key=lambda r: (r["settled_at"], r["txn_id"]))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["txn_id", "merchant_ref", "type", "amount", "currency", "settled_at"])
        for row in rows:
            writer.writerow([row["txn_id"], row["merchant_ref"], row["type"], f"{row['amount']:.2f}", row["currency"],
                             row["settled_at"].isoformat()])
    return len(rows)


def _local(row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    return {k: (v.astimezone(zone).replace(tzinfo=None) if isinstance(v, datetime) else v) for k, v in row.items()}


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start:start + CHUNK]
