"""`unique`: at most N rows per key. *One DEDUCT per order line; one processed callback per transaction.*"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field
from sqlalchemy import func, select

from checks.kinds.base import MAX_RELATED_ROWS, DriverSpec, RuleKind
from checks.model import Finding, PlannedQuery, RunContext
from collectors.tables import column, entity_rows, fetch, keys_in, stream, where_text


class UniqueParams(DriverSpec):
    max: int = Field(1, ge=1)


class UniqueKind(RuleKind):
    names = ("unique",)
    Params = UniqueParams
    params: UniqueParams

    @property
    def key_columns(self) -> list[str]:
        return list(self.params.key)

    @property
    def source_names(self) -> list[str]:
        return [self.params.source]

    @property
    def time_column(self) -> str | None:
        return self.params.time_column

    def _named_specs(self) -> list[tuple[tuple[str, ...], Any]]:
        return [((), self.params)]

    def _queries(self, ctx: RunContext) -> tuple[Any, Any, Any]:
        """(source, rows covered, keys with too many rows): counted over all rows of the entities in scope."""
        spec = self.params
        source, table = self.table(ctx, spec)
        t = table.alias("t")
        from_clause, conditions = entity_rows(t, self.key_columns, spec.time_column, spec.where, ctx.scope, source)
        keys = [column(t, c) for c in self.key_columns]
        counted = select(*keys, func.count().label("row_count")).select_from(from_clause).where(*conditions)
        covered = select(func.count()).select_from(from_clause).where(*conditions)
        return source, covered, counted.group_by(*keys).having(func.count() > spec.max)

    def plan(self, ctx: RunContext) -> list[PlannedQuery]:
        _, covered, failing = self._queries(ctx)
        return [PlannedQuery(self.params.source, "rows covered", covered),
                PlannedQuery(self.params.source, f"keys with more than {self.params.max} row(s)", failing)]

    def findings(self, ctx: RunContext) -> Iterator[Finding]:
        spec = self.params
        source, covered, failing = self._queries(ctx)
        table = source.table(spec.table, spec.schema_name)
        with source.connect() as connection:
            ctx.checked(int(connection.execute(covered).scalar() or 0))
        for page in stream(source, failing, source.config.batch_size):
            duplicates = self._rows_of(source, table, page)
            for row in page:
                key = tuple(row[c] for c in self.key_columns)
                rows = duplicates.get(key, [])
                yield Finding(key=key, evidence={
                    "row": self.capture(ctx, spec.source, {c: row[c] for c in self.key_columns}),
                    "expected": f"at most {spec.max} row(s) in {spec.label()} per "
                                f"{', '.join(self.key_columns)}" + (f" where {spec.where}" if spec.where else ""),
                    "actual": f"{row['row_count']} rows",
                    "related": [self.capture(ctx, spec.source, r) for r in rows],
                }, trace_id=next((self.trace_of(r) for r in rows if self.trace_of(r)), None))

    def _rows_of(self, source: Any, table: Any, page: list[dict[str, Any]]) -> dict[tuple, list[dict[str, Any]]]:
        keys = [tuple(r[c] for c in self.key_columns) for r in page]
        query = select(table).where(keys_in(table, self.key_columns, keys), *where_text(self.params.where))
        grouped: dict[tuple, list[dict[str, Any]]] = {}
        for row in fetch(source, query):
            bucket = grouped.setdefault(tuple(row[c] for c in self.key_columns), [])
            if len(bucket) < MAX_RELATED_ROWS:
                bucket.append(row)
        return grouped
