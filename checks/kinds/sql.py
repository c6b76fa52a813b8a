"""`sql`: the rule author's own read-only SELECT, returning the violating keys and their evidence.

The query is parsed (sqlglot, in the source's dialect) and refused unless it is exactly one
SELECT with no data change, INTO or locking clause; it then runs in a read-only session anyway.
It may use `:cutoff` (now minus the grace period, in the source's local time) and `:now`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import field_validator
from sqlalchemy import text
from sqlalchemy.engine import make_url

from checks.kinds.base import KindParams, RuleKind
from checks.model import Finding, PlannedQuery, RunContext
from checks.sqlguard import check_select
from collectors.tables import stream
from concord.config import ColumnList
from concord.errors import SourceError, UnsafeQueryError
from concord.sources import Source


class SqlParams(KindParams):
    source: str
    sql: str
    key: ColumnList

    @field_validator("sql")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is empty; write one SELECT that returns the violating keys")
        return value


class SqlKind(RuleKind):
    names = ("sql",)
    Params = SqlParams
    params: SqlParams

    @property
    def key_columns(self) -> list[str]:
        return list(self.params.key)

    @property
    def source_names(self) -> list[str]:
        return [self.params.source]

    @property
    def always_full(self) -> bool:
        return True

    def _named_specs(self) -> list[tuple[tuple[str, ...], Any]]:
        return [((), self.params)]

    def config_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems = super().config_problems()
        source = self.config.sources.get(self.params.source)
        backend = _backend(source.url) if source else None
        try:
            check_select(self.params.sql, backend)
        except UnsafeQueryError as exc:
            problems.append((("sql",), str(exc)))
        return problems

    def _query(self, ctx: RunContext) -> Any:
        source = ctx.source(self.params.source)
        check_select(self.params.sql, source.dialect_name)
        query = text(self.params.sql)
        binds = {"cutoff": source.to_local(ctx.now - self.rule.grace), "now": source.to_local(ctx.now)}
        used = {name: value for name, value in binds.items() if name in query._bindparams}  # noqa: SLF001
        return query.bindparams(**used) if used else query

    def plan(self, ctx: RunContext) -> list[PlannedQuery]:
        return [PlannedQuery(self.params.source, "the rule's own query", self._query(ctx))]

    def findings(self, ctx: RunContext) -> Iterator[Finding]:
        source = ctx.source(self.params.source)
        query = self._query(ctx)
        # The user's query returns only violations: what it read is known to the database alone.
        for page in stream(source, query, source.config.batch_size):
            ctx.checked(len(page))
            for row in page:
                yield self._finding(ctx, source, row)

    def _finding(self, ctx: RunContext, source: Source, row: dict[str, Any]) -> Finding:
        missing = [c for c in self.key_columns if c not in row]
        if missing:
            raise SourceError(f"rule '{self.name}': the query returns no column {', '.join(missing)} "
                              f"(it returns {', '.join(row)}); select the key columns by those names")
        return Finding(key=tuple(row[c] for c in self.key_columns), evidence={
            "row": self.capture(ctx, self.params.source, row),
            "expected": "no row from the rule's query",
            "actual": "returned by the query",
        }, trace_id=self.trace_of(row))


def _backend(url: str) -> str | None:
    try:
        return make_url(url).get_backend_name()
    except Exception:  # noqa: BLE001 - an invalid URL is reported by the source's own validation
        return None
