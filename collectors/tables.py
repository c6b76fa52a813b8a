"""Bounded reads of business tables: scope filters, keyset batches, and key lookups with IN (...).

Every read here is either a keyset page (never OFFSET, so page N costs what page 1 costs) or a
lookup of at most one batch of keys, so memory follows the batch size and not the table size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Select, and_, any_, bindparam, or_, select, text, tuple_
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.schema import Table

from concord.errors import SourceError
from concord.sources import Source


@dataclass(frozen=True)
class Window:
    """Time range `(start, end]` in UTC; a missing bound is open."""

    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class Scope:
    """Which entities a run judges: every one, those in a time window, or a given list of keys."""

    kind: str  # full | incremental | recheck | sample
    window: Window | None = None
    keys: tuple[tuple[Any, ...], ...] = ()
    sample_size: int = 0
    seed: int = 0


def column(table: Table, name: str) -> Any:
    try:
        return table.c[name]
    except KeyError:
        known = ", ".join(c.name for c in table.columns)
        raise SourceError(f"table '{table.name}' has no column '{name}' (columns: {known}); fix the rule") from None


def key_expression(table: Table, key: Sequence[str]) -> Any:
    columns = [column(table, name) for name in key]
    return columns[0] if len(columns) == 1 else tuple_(*columns)


def keys_in(table: Table, key: Sequence[str], keys: Sequence[tuple[Any, ...]],
            dialect: str | None = None) -> ColumnElement[bool]:
    """`key IN (…)`; on PostgreSQL a single column uses `= ANY(array)`: one parameter instead of thousands."""
    if len(key) == 1:
        target = column(table, key[0])
        values = [k[0] for k in keys]
        if dialect == "postgresql" and values:
            return target == any_(bindparam("keys", values, type_=ARRAY(target.type)))
        return target.in_(values)
    return tuple_(*[column(table, name) for name in key]).in_([tuple(k) for k in keys])


def where_text(where: str | None) -> list[ColumnElement[bool]]:
    """The rule author's filter, validated as an expression when the rule was compiled."""
    return [text(f"({where})")] if where else []


def window_conditions(table: Table, time_column: str | None, window: Window | None,
                      source: Source) -> list[ColumnElement[bool]]:
    if window is None or time_column is None:
        return []
    moment = column(table, time_column)
    conditions: list[ColumnElement[bool]] = []
    if window.start is not None:
        conditions.append(moment > source.to_local(window.start))
    if window.end is not None:
        conditions.append(moment <= source.to_local(window.end))
    return conditions


def scope_conditions(table: Table, key: Sequence[str], time_column: str | None, where: str | None,
                     scope: Scope, source: Source) -> list[ColumnElement[bool]]:
    """The driver rows a scope covers: the rule's filter, plus the window or the rechecked keys."""
    conditions = where_text(where)
    if scope.kind in ("incremental", "full", "sample"):
        conditions += window_conditions(table, time_column, scope.window, source)
    elif scope.kind == "recheck":
        conditions.append(keys_in(table, key, scope.keys))
    return conditions


def after_key(table: Table, key: Sequence[str], last: tuple[Any, ...]) -> ColumnElement[bool]:
    """Keyset pagination's `key > last`, written out for composite keys so every dialect uses the index."""
    columns = [column(table, name) for name in key]
    if len(columns) == 1:
        return columns[0] > last[0]
    clauses = []
    for position in range(len(columns)):
        equal = [columns[i] == last[i] for i in range(position)]
        clauses.append(and_(*equal, columns[position] > last[position]))
    return or_(*clauses)


def keyset_batches(source: Source, query: Select[Any], table: Table, key: Sequence[str],
                   batch_size: int, full_scan: bool = False) -> Iterator[list[dict[str, Any]]]:
    """Pages of `query` in key order, as dicts; `query` must select the key columns by name."""
    for names, rows in keyset_rows(source, query, table, key, batch_size, full_scan):
        yield [dict(zip(names, row, strict=True)) for row in rows]


def keyset_rows(source: Source, query: Select[Any], table: Table, key: Sequence[str], batch_size: int,
                full_scan: bool = False) -> Iterator[tuple[list[str], list[Any]]]:
    """Pages of `query` in key order as (column names, rows as tuples): for loops that touch every
    row of a large table, where building a dict per row would cost more than reading it."""
    last: tuple[Any, ...] | None = None
    first = keyset_page(source, query, table, key, batch_size, full_scan)
    while True:
        page = first if last is None else first.where(after_key(table, key, last))
        with source.connect() as connection:
            result = connection.execute(page)
            names = list(result.keys())
            rows = result.all()
        source.throttle(len(rows))
        if not rows:
            return
        yield names, rows
        if len(rows) < batch_size:
            return
        last = tuple(rows[-1][names.index(name)] for name in key)


def keyset_page(source: Source, query: Select[Any], table: Table, key: Sequence[str], batch_size: int,
                full_scan: bool = False) -> Select[Any]:
    """The first page; later ones add `key > last`.

    `full_scan` (the scope reads the whole table): on MariaDB/MySQL the pages walk the primary key.
    Given `status = 'PAID' AND id > :last ORDER BY id LIMIT n`, MariaDB 10.11 often picks `ref` access
    on an index of `status` and filters `id > :last` row by row from the start of that index range,
    so page k reads k pages' worth of rows: 41 ms at id 300,000 and 79 ms at 600,000 against 9 ms
    walking the primary key (1M orders). Walking the key costs one pass over the table in all, which
    is what a full scan is; windowed scopes keep their time index and get no hint.
    """
    if full_scan and source.dialect_name in ("mysql", "mariadb") and \
            list(key) == [c.name for c in table.primary_key.columns]:
        query = query.with_hint(table, "FORCE INDEX (PRIMARY)", source.dialect_name)
    return query.order_by(*[column(table, name) for name in key]).limit(batch_size)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]




def fetch(source: Source, query: Select[Any]) -> list[dict[str, Any]]:
    with source.connect() as connection:
        rows = [dict(row) for row in connection.execute(query).mappings()]
    source.throttle(len(rows))
    return rows


def stream(source: Source, query: Any, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """A pushed-down query's result in pages of `batch_size`, without holding it all in memory."""
    with source.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=batch_size).execute(query)
        for partition in result.mappings().partitions(batch_size):
            rows = [dict(row) for row in partition]
            source.throttle(len(rows))
            yield rows




def entity_rows(table: Any, key: Sequence[str], time_column: str | None, where: str | None, scope: Scope,
                source: Source) -> tuple[Any, list[ColumnElement[bool]]]:
    """FROM clause and filter for *all* rows of the entities a scope covers.

    An entity is in an incremental scope when one of its rows is in the window; kinds that count or
    follow an entity's rows (unique, state transitions, aggregates) must still see every row of it.
    """
    conditions = where_text(where)
    if scope.kind == "recheck":
        return table, [*conditions, keys_in(table, key, scope.keys)]
    if time_column is None or scope.window is None:
        return table, conditions
    inner = table.alias(f"{table.name}_scope") if isinstance(table, Table) else table.element.alias("scope")
    in_window = select(*[column(inner, name) for name in key]).where(
        *where_text(where), *window_conditions(inner, time_column, scope.window, source)
    ).distinct().subquery("in_scope")
    joined = table.join(in_window, and_(*[column(table, name) == in_window.c[name] for name in key]))
    return joined, conditions
