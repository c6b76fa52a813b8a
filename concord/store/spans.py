"""The span store and its business-key index: idempotent writes, trace reads, key lookups, retention.

The same span received twice (an exporter's retry) is stored once: inserts skip existing primary
keys in each dialect's own way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection

from concord.store.runs import naive_utc
from concord.store.schema import span_keys, spans


def insert_ignoring_duplicates(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect in ("mysql", "mariadb"):
        statement = mysql.insert(table).prefix_with("IGNORE")
    else:
        raise ValueError(f"the store does not support {dialect}; use SQLite, MariaDB or PostgreSQL")
    connection.execute(statement, list(rows))


def store_spans(connection: Connection, records: Iterable[Any], received_at: datetime,
                index_attributes: Sequence[str] = ()) -> int:
    """Write span records (collectors.otlp.SpanRecord) and index the configured attributes; returns spans given."""
    at = naive_utc(received_at)
    rows, keys = [], {}
    indexed = set(index_attributes)
    for span in records:
        rows.append({
            "trace_id": span.trace_id, "span_id": span.span_id, "parent_span_id": span.parent_span_id,
            "service": span.service[:200], "name": span.name[:300], "kind": span.kind, "start_ns": span.start_ns,
            "end_ns": span.end_ns, "status_code": span.status_code, "status_message": span.status_message or None,
            "attributes": json.dumps(span.attributes, separators=(",", ":"), default=str),
            "events": json.dumps(span.events, separators=(",", ":"), default=str), "received_at": at,
        })
        for name in indexed.intersection(span.attributes):
            value = str(span.attributes[name])[:200]
            keys[(name, value, span.trace_id)] = {"attribute": name, "value": value, "trace_id": span.trace_id,
                                                  "received_at": at}
    insert_ignoring_duplicates(connection, spans, rows)
    insert_ignoring_duplicates(connection, span_keys, list(keys.values()))
    return len(rows)


def trace_spans(connection: Connection, trace_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(select(spans).where(spans.c.trace_id == trace_id.lower())
                              .order_by(spans.c.start_ns, spans.c.span_id)).mappings()
    return [{**row, "attributes": json.loads(row["attributes"]), "events": json.loads(row["events"])} for row in rows]


def traces_for_key(connection: Connection, attribute: str, value: Any, limit: int = 20) -> list[str]:
    query = select(span_keys.c.trace_id).where(span_keys.c.attribute == attribute,
                                               span_keys.c.value == str(value)[:200]).limit(limit)
    return list(connection.execute(query).scalars())


def purge_before(connection: Connection, cutoff: datetime) -> int:
    """Retention: spans and key entries received before `cutoff` go."""
    at = naive_utc(cutoff)
    removed = connection.execute(delete(spans).where(spans.c.received_at < at)).rowcount or 0
    connection.execute(delete(span_keys).where(span_keys.c.received_at < at))
    return int(removed)
