"""`state`: a status column holds only allowed values, and a status history follows allowed transitions.

*PAID never goes back to PENDING.* The history may record both ends of each transition
(`from_column`, `to_column`) or only the new status, in which case the previous one is taken
with `LAG()` over the entity's rows in `order_by` order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field
from sqlalchemy import and_, func, or_, select

from checks.kinds.base import MAX_RELATED_ROWS, KindParams, RuleKind
from checks.model import Finding, PlannedQuery, RunContext
from collectors.tables import column, entity_rows, scope_conditions, stream


class TransitionSpec(KindParams):
    table: str
    schema_name: str | None = Field(None, alias="schema")
    key: list[str] | str
    to_column: str
    from_column: str | None = None
    order_by: str
    where: str | None = None
    allowed: dict[str, list[str]] = Field(min_length=1)
    initial: list[str] | None = None

    @property
    def key_list(self) -> list[str]:
        return [self.key] if isinstance(self.key, str) else list(self.key)


class StateParams(KindParams):
    source: str
    table: str | None = None
    schema_name: str | None = Field(None, alias="schema")
    key: list[str] | str | None = None
    where: str | None = None
    time_column: str | None = None
    column: str | None = None
    allowed: list[str | int] | None = None
    transitions: TransitionSpec | None = None


class StateKind(RuleKind):
    names = ("state",)
    Params = StateParams
    params: StateParams

    @property
    def key_columns(self) -> list[str]:
        if self.params.key is not None:
            return [self.params.key] if isinstance(self.params.key, str) else list(self.params.key)
        return self.params.transitions.key_list if self.params.transitions else []

    @property
    def source_names(self) -> list[str]:
        return [self.params.source]

    @property
    def time_column(self) -> str | None:
        if self.params.allowed is not None:
            return self.params.time_column
        return self.params.transitions.order_by if self.params.transitions else None

    def _named_specs(self) -> list[tuple[tuple[str, ...], Any]]:
        return [((), self.params)]

    def config_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems = super().config_problems()
        p = self.params
        if p.allowed is None and p.transitions is None:
            problems.append(((), "a state rule needs 'allowed' values (with 'table', 'key' and 'column') "
                                 "or 'transitions' (a status history table), or both"))
        if p.allowed is not None and not (p.table and p.key and p.column):
            problems.append((("allowed",), "checking allowed values needs 'table', 'key' and 'column' too"))
        if p.transitions and p.key and len(self.key_columns) != len(p.transitions.key_list):
            problems.append((("transitions", "key"), "the history's key must have as many columns as the rule's key"))
        return problems

    def findings(self, ctx: RunContext) -> Iterator[Finding]:
        if self.params.allowed is not None:
            yield from self._values(ctx)
        if self.params.transitions is not None:
            yield from self._transitions(ctx)

    def _values_queries(self, ctx: RunContext) -> tuple[Any, Any, Any]:
        p = self.params
        source = ctx.source(p.source)
        table = source.table(p.table or "", p.schema_name).alias("s")
        covered = scope_conditions(table, self.key_columns, p.time_column, p.where, ctx.scope, source)
        status = column(table, p.column or "")
        failing = or_(status.is_(None), status.not_in(list(p.allowed or [])))
        return source, select(func.count()).select_from(table).where(*covered), select(table).where(*covered, failing)

    def _transition_queries(self, ctx: RunContext) -> tuple[Any, Any, Any]:
        spec = self.params.transitions
        assert spec is not None
        source = ctx.source(self.params.source)
        history = source.table(spec.table, spec.schema_name).alias("h")
        key = spec.key_list
        from_clause, conditions = entity_rows(history, key, spec.order_by, spec.where, ctx.scope, source)
        keys = [column(history, c) for c in key]
        previous = column(history, spec.from_column) if spec.from_column else \
            func.lag(column(history, spec.to_column)).over(partition_by=keys, order_by=column(history, spec.order_by))
        steps = select(history, previous.label("concord_from")).select_from(from_clause).where(*conditions).subquery()
        failing = select(steps).where(~self._allowed_pairs(steps.c.concord_from, steps.c[spec.to_column])) \
            .order_by(*[steps.c[c] for c in key], steps.c[spec.order_by])
        return source, select(func.count()).select_from(steps), failing

    def plan(self, ctx: RunContext) -> list[PlannedQuery]:
        planned = []
        if self.params.allowed is not None:
            _, covered, failing = self._values_queries(ctx)
            planned += [PlannedQuery(self.params.source, "rows covered", covered),
                        PlannedQuery(self.params.source, "rows with a status outside the allowed values", failing)]
        if self.params.transitions is not None:
            _, covered, failing = self._transition_queries(ctx)
            planned += [PlannedQuery(self.params.source, "transitions covered", covered),
                        PlannedQuery(self.params.source, "transitions not allowed", failing)]
        return planned

    def _values(self, ctx: RunContext) -> Iterator[Finding]:
        p = self.params
        source, covered, failing = self._values_queries(ctx)
        with source.connect() as connection:
            ctx.checked(int(connection.execute(covered).scalar() or 0))
        for page in stream(source, failing, source.config.batch_size):
            for row in page:
                yield Finding(key=tuple(row[c] for c in self.key_columns), evidence={
                    "row": self.capture(ctx, p.source, row),
                    "expected": f"{p.column} in {', '.join(map(str, p.allowed or []))}",
                    "actual": f"{p.column} = {row[p.column]!r}",
                }, trace_id=self.trace_of(row))

    def _transitions(self, ctx: RunContext) -> Iterator[Finding]:
        spec = self.params.transitions
        assert spec is not None
        key = spec.key_list
        source, covered, failing = self._transition_queries(ctx)
        with source.connect() as connection:
            ctx.checked(int(connection.execute(covered).scalar() or 0))
        current: tuple | None = None
        bad: list[dict[str, Any]] = []
        for page in stream(source, failing, source.config.batch_size):
            for row in page:
                entity = tuple(row[c] for c in key)
                if current is not None and entity != current:
                    yield self._transition_finding(ctx, current, bad)
                    bad = []
                current = entity
                bad.append(row)
        if current is not None:
            yield self._transition_finding(ctx, current, bad)

    def _allowed_pairs(self, before: Any, after: Any) -> Any:
        spec = self.params.transitions
        assert spec is not None
        pairs = [and_(before == state, after.in_(targets)) for state, targets in spec.allowed.items() if targets]
        first = and_(before.is_(None), after.in_(spec.initial)) if spec.initial is not None else before.is_(None)
        return or_(first, *pairs)

    def _transition_finding(self, ctx: RunContext, key: tuple, rows: list[dict[str, Any]]) -> Finding:
        spec = self.params.transitions
        assert spec is not None
        steps = [f"{r['concord_from'] or '(start)'} → {r[spec.to_column]} at {r[spec.order_by]}" for r in rows]
        return Finding(key=key, evidence={
            "row": self.capture(ctx, self.params.source, dict(zip(self.key_columns, key, strict=True))),
            "expected": "transitions: " + "; ".join(f"{s} → {', '.join(t) or 'nothing'}"
                                                    for s, t in spec.allowed.items()),
            "actual": "illegal: " + "; ".join(steps[:MAX_RELATED_ROWS]),
            "related": [self.capture(ctx, self.params.source, {k: v for k, v in r.items() if k != "concord_from"})
                        for r in rows[:MAX_RELATED_ROWS]],
        })
