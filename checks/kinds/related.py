"""Lookups shared by the kinds that relate a driver table to a target table (exists, not_exists, match)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import select

from checks.kinds.base import KindParams, RuleKind, TableSpec
from checks.model import Finding, RunContext
from collectors.tables import chunks, fetch, keys_in, where_text
from concord.keys import normalize_key


class TargetSpec(KindParams):
    """The other side of a relation: rows whose `match` columns equal the driver row's columns."""

    source: str
    table: str
    schema_name: str | None = Field(None, alias="schema")
    match: dict[str, str] = Field(min_length=1)
    where: str | None = None

    @field_validator("match")
    @classmethod
    def _columns_named(cls, value: dict[str, str]) -> dict[str, str]:
        for target_column, driver_column in value.items():
            if not target_column or not driver_column:
                raise ValueError("write match as {target_column: driver_column}, e.g. {order_id: id}")
        return value

    def as_table(self) -> TableSpec:
        return TableSpec(source=self.source, table=self.table, schema=self.schema_name, where=self.where)

    def label(self) -> str:
        return f"{self.source}.{self.table}"

    def describe(self, driver_row: Mapping[str, Any]) -> str:
        pairs = " and ".join(f"{t} = {driver_row.get(d)!r}" for t, d in self.match.items())
        condition = f" and {self.where}" if self.where else ""
        return f"a row in {self.label()} with {pairs}{condition}"


def sorted_distinct(values: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Distinct values in a stable order (so lookups chunk the same way every run); by repr only when
    the types do not compare, which sorting 5,000 plain keys per page would otherwise pay for."""
    unique = set(values)
    try:
        return sorted(unique)
    except TypeError:
        return sorted(unique, key=repr)


def match_values(row: Mapping[str, Any], target: TargetSpec) -> tuple[Any, ...]:
    """The driver row's values for the target's match columns, normalized for comparison."""
    return normalize_key([row[driver_column] for driver_column in target.match.values()])


def lookup_related(ctx: RunContext, target: TargetSpec, values: Iterable[tuple[Any, ...]],
                   batch_size: int, limit_per_key: int | None = None) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Target rows for each match value, found with indexed `IN (...)` queries of at most one batch each."""
    source = ctx.source(target.source)
    table = source.table(target.table, target.schema_name)
    target_columns = list(target.match)
    distinct: Sequence[tuple[Any, ...]] = sorted_distinct(values)
    found: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for chunk in chunks(distinct, batch_size):
        query = select(table).where(keys_in(table, target_columns, chunk, source.dialect_name),
                                    *where_text(target.where))
        for row in fetch(source, query):
            rows = found.setdefault(normalize_key([row[c] for c in target_columns]), [])
            if limit_per_key is None or len(rows) < limit_per_key:
                rows.append(row)
    return found


def presence_query(table: Any, target: TargetSpec, values: Sequence[tuple[Any, ...]],
                   dialect: str | None = None) -> Any:
    target_columns = list(target.match)
    return select(*[table.c[c] for c in target_columns]).where(
        keys_in(table, target_columns, values, dialect), *where_text(target.where)).distinct()


def example_keys(table: Any, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """A stand-in key of the right types, to show (and EXPLAIN) a lookup whose keys come from a page."""
    values: list[Any] = []
    for name in columns:
        try:
            kind = table.c[name].type.python_type
        except (NotImplementedError, KeyError):
            kind = str
        values.append(kind(0) if kind in (int, float, Decimal) else "")
    return [tuple(values)]


def present_values(ctx: RunContext, target: TargetSpec, values: Iterable[tuple[Any, ...]],
                   batch_size: int) -> set[tuple[Any, ...]]:
    """Which match values have at least one target row: only the key columns travel, once each."""
    source = ctx.source(target.source)
    table = source.table(target.table, target.schema_name)
    distinct: Sequence[tuple[Any, ...]] = sorted_distinct(values)
    present: set[tuple[Any, ...]] = set()
    for chunk in chunks(distinct, batch_size):
        dense = dense_int_range(chunk)
        if dense is not None:  # one index range read instead of thousands of probes; extra values are ignored
            (name,) = target.match
            query = select(table.c[name]).where(table.c[name].between(*dense), *where_text(target.where)).distinct()
        else:
            query = presence_query(table, target, chunk, source.dialect_name)
        with source.connect() as connection:
            rows = connection.execute(query).all()
        present.update(normalize_key(row) for row in rows)
    return present


DENSE_FACTOR = 4


def dense_int_range(values: Sequence[tuple[Any, ...]]) -> tuple[int, int] | None:
    """(lowest, highest) when the values are single integers packed closely enough that reading their
    whole range costs at most DENSE_FACTOR times the keys asked for, as keyset pages of ids are."""
    if not values or len(values[0]) != 1 or type(values[0][0]) is not int or type(values[-1][0]) is not int:
        return None
    low, high = values[0][0], values[-1][0]  # sorted by sorted_distinct
    if high - low + 1 > DENSE_FACTOR * len(values):
        return None
    return (low, high) if all(type(v[0]) is int for v in values) else None


class RelationKind(RuleKind):
    """A kind over a driver table and a target table: the planner's choice between strategies lives here.

    Both tables in one source: the database answers with one query (`_pushdown`). Otherwise the driver
    is read in keyset pages and each page is looked up in the target (`_batched`).
    """

    @property
    def key_columns(self) -> list[str]:
        return list(self.params.driver.key)

    @property
    def source_names(self) -> list[str]:
        return [self.params.driver.source, self.params.target.source]

    @property
    def time_column(self) -> str | None:
        return self.params.driver.time_column

    @property
    def single_source(self) -> bool:
        """Both tables in one database: the same source, or two sources with the same URL."""
        driver, target = self.params.driver.source, self.params.target.source
        if driver == target:
            return True
        sources = self.config.sources
        return driver in sources and target in sources and sources[driver].url == sources[target].url

    def _named_specs(self) -> list[tuple[tuple[str, ...], Any]]:
        return [(("driver",), self.params.driver), (("target",), self.params.target)]

    def findings(self, ctx: RunContext) -> Iterator[Finding]:
        yield from (self._pushdown(ctx) if self.single_source else self._batched(ctx))

    @abstractmethod
    def _pushdown(self, ctx: RunContext) -> Iterator[Finding]:
        """One query in the shared source that returns only failing entities."""

    @abstractmethod
    def _batched(self, ctx: RunContext) -> Iterator[Finding]:
        """Driver keyset pages, each looked up in the target source."""
