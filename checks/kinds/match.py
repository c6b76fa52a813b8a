"""`match`: a value or aggregate on the driver side equals one on the target side, within a tolerance.

*payment.amount = order.total*; *sum of deducted quantities = sum of ordered quantities*. An
aggregate driver value is taken over all of the entity's rows, even when only one of them falls
in the run's window, so a window never sees half an order.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field
from sqlalchemy import Select, and_, func, literal, or_, select

from checks.kinds.base import DriverSpec, KindParams
from checks.kinds.related import RelationKind, TargetSpec, example_keys, match_values
from checks.kinds.values import ValueExpr, parse_value
from checks.model import Finding, PlannedQuery, RunContext
from collectors.tables import (
    chunks,
    column,
    fetch,
    keys_in,
    keyset_batches,
    scope_conditions,
    stream,
    where_text,
)
from concord.keys import normalize_key, normalize_value


def _parsable(text: str) -> str:
    parse_value(text)
    return text


ValueText = Annotated[str, AfterValidator(_parsable)]


class MatchDriver(DriverSpec):
    value: ValueText


class MatchTarget(TargetSpec):
    value: ValueText


class MatchParams(KindParams):
    driver: MatchDriver
    target: MatchTarget
    tolerance: float = Field(0.0, ge=0)
    missing: Literal["fail", "pass"] = "fail"


class MatchKind(RelationKind):
    names = ("match",)
    Params = MatchParams
    params: MatchParams

    @property
    def driver_value(self) -> ValueExpr:
        return parse_value(self.params.driver.value)

    @property
    def target_value(self) -> ValueExpr:
        return parse_value(self.params.target.value)

    def config_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems = super().config_problems()
        if self.driver_value.is_aggregate:
            outside = [c for c in self.params.target.match.values() if c not in self.key_columns]
            if outside:
                problems.append((("target", "match"),
                                 f"with an aggregate driver value, match may only use the driver's key columns "
                                 f"({', '.join(self.key_columns)}), not {', '.join(outside)}"))
        return problems

    # -- one source: one query --------------------------------------------------------------------------
    def _driver_query(self, ctx: RunContext, table: Any, source: Any) -> Select[Any]:
        driver = self.params.driver
        covered = scope_conditions(table, self.key_columns, driver.time_column, driver.where, ctx.scope, source)
        if not self.driver_value.is_aggregate:
            return select(table, self.driver_value.sql(table).label("driver_value")).where(*covered)
        keys = [column(table, c) for c in self.key_columns]
        # The entities in scope come from a second alias: the aggregate is over all of their rows.
        inner = table.element.alias("ds")
        inner_covered = scope_conditions(inner, self.key_columns, driver.time_column, driver.where, ctx.scope, source)
        in_scope = select(*[column(inner, c) for c in self.key_columns]).where(*inner_covered)
        if len(keys) > 1:  # row-value IN over a subquery is not portable; join on the distinct keys instead
            distinct_keys = in_scope.distinct().subquery("scoped_keys")
            grouped = select(*keys, self.driver_value.sql(table).label("driver_value")).select_from(
                table.join(distinct_keys, and_(*[k == distinct_keys.c[c] for k, c in zip(keys, self.key_columns,
                                                                                            strict=True)])))
            return grouped.where(*where_text(driver.where)).group_by(*keys)
        return select(*keys, self.driver_value.sql(table).label("driver_value")).where(
            *where_text(driver.where), keys[0].in_(in_scope)).group_by(*keys)

    def _pushdown_queries(self, ctx: RunContext) -> tuple[Any, Any, Any]:
        """(source, count of entities covered, failing entities): one query compares both sides."""
        target = self.params.target
        source, driver_table = self.table(ctx, self.params.driver)
        _, target_table = self.table(ctx, target.as_table())
        d = self._driver_query(ctx, driver_table.alias("d"), source).subquery("dv")
        t = target_table.alias("t")
        correlation = and_(*[column(t, tc) == d.c[dc] for tc, dc in target.match.items()], *where_text(target.where))
        low, high = self._target_bounds(t)
        judged = select(d, select(low).where(correlation).scalar_subquery().label("target_low"),
                        select(high).where(correlation).scalar_subquery().label("target_high")).subquery("j")
        tolerance = literal(Decimal(str(self.params.tolerance)))
        differs = or_(judged.c.driver_value.is_(None),
                      func.abs(judged.c.driver_value - judged.c.target_low) > tolerance,
                      func.abs(judged.c.driver_value - judged.c.target_high) > tolerance)
        absent = judged.c.target_low.is_(None)
        failing = or_(absent, differs) if self.params.missing == "fail" else and_(~absent, differs)
        return source, select(func.count()).select_from(d), select(judged).where(failing)

    def _pushdown(self, ctx: RunContext) -> Iterator[Finding]:
        source, counted, failing = self._pushdown_queries(ctx)
        with source.connect() as connection:
            ctx.checked(int(connection.execute(counted).scalar() or 0))
        for page in stream(source, failing, source.config.batch_size):
            for row in page:
                low_value, high_value = row.pop("target_low"), row.pop("target_high")
                yield self._finding(ctx, row, low_value, high_value)

    def plan(self, ctx: RunContext) -> list[PlannedQuery]:
        driver, target = self.params.driver, self.params.target
        if self.single_source:
            _, counted, failing = self._pushdown_queries(ctx)
            return [PlannedQuery(driver.source, "entities covered", counted),
                    PlannedQuery(driver.source, "entities whose values differ, both sides in one query", failing)]
        source, table = self.table(ctx, driver)
        covered = scope_conditions(table, self.key_columns, driver.time_column, driver.where, ctx.scope, source)
        keys = [column(table, c) for c in self.key_columns]
        page = (select(*keys).distinct() if self.driver_value.is_aggregate else select(table)).where(*covered) \
            .order_by(*keys).limit(source.config.batch_size)
        target_table = ctx.source(target.source).table(target.table, target.schema_name)
        return [PlannedQuery(driver.source, "driver entities, one keyset page", page),
                PlannedQuery(target.source, "target values of a page (one IN list per page)",
                             self._target_query(target_table, example_keys(target_table, list(target.match))))]

    def _target_bounds(self, table: Any) -> tuple[Any, Any]:
        """Target value as (low, high): a plain column may have several rows, and all must match."""
        value = self.target_value
        if value.is_aggregate:
            expression = value.sql(table)
            return expression, expression
        plain = column(table, value.column)
        return func.min(plain), func.max(plain)

    # -- two sources: keyset pages and lookups -----------------------------------------------------------
    def _batched(self, ctx: RunContext) -> Iterator[Finding]:
        driver = self.params.driver
        source, table = self.table(ctx, driver)
        covered = scope_conditions(table, self.key_columns, driver.time_column, driver.where, ctx.scope, source)
        if self.driver_value.is_aggregate:
            keys = [column(table, c) for c in self.key_columns]
            pages = keyset_batches(source, select(*keys).where(*covered).distinct(), table, self.key_columns,
                                   source.config.batch_size, full_scan=ctx.scope.kind == "full")
        else:
            pages = keyset_batches(source, select(table).where(*covered), table, self.key_columns,
                                   source.config.batch_size, full_scan=ctx.scope.kind == "full")
        for page in pages:
            ctx.checked(len(page))
            rows = self._aggregate_driver(ctx, table, source, page) if self.driver_value.is_aggregate else \
                [{**row, "driver_value": row[self.driver_value.column]} for row in page]
            bounds = self._lookup_target(ctx, rows)
            for row in rows:
                low, high = bounds.get(match_values(row, self.params.target), (None, None))
                if self._fails(row["driver_value"], low, high):
                    yield self._finding(ctx, row, low, high)

    def _aggregate_driver(self, ctx: RunContext, table: Any, source: Any, page: list[dict[str, Any]]) -> list[dict]:
        keys = [column(table, c) for c in self.key_columns]
        query = select(*keys, self.driver_value.sql(table).label("driver_value")).where(
            *where_text(self.params.driver.where),
            keys_in(table, self.key_columns, [tuple(r[c] for c in self.key_columns) for r in page])).group_by(*keys)
        return fetch(source, query)

    def _target_query(self, table: Any, values: Any) -> Any:
        target = self.params.target
        match_columns = [column(table, c) for c in target.match]
        low, high = self._target_bounds(table)
        return select(*match_columns, low.label("low"), high.label("high")).where(
            keys_in(table, list(target.match), values), *where_text(target.where)).group_by(*match_columns)

    def _lookup_target(self, ctx: RunContext, rows: list[dict[str, Any]]) -> dict[tuple, tuple[Any, Any]]:
        target = self.params.target
        source = ctx.source(target.source)
        table = source.table(target.table, target.schema_name)
        values = sorted({match_values(r, target) for r in rows}, key=repr)
        found: dict[tuple, tuple[Any, Any]] = {}
        for chunk in chunks(values, source.config.batch_size):
            for row in fetch(source, self._target_query(table, chunk)):
                found[normalize_key([row[c] for c in target.match])] = (row["low"], row["high"])
        return found

    def _fails(self, actual: Any, low: Any, high: Any) -> bool:
        if low is None and high is None:
            return self.params.missing == "fail"
        actual_number, tolerance = _number(actual), Decimal(str(self.params.tolerance))
        if actual_number is None:
            return True
        return any(_number(v) is None or abs(actual_number - _number(v)) > tolerance for v in (low, high))

    def _finding(self, ctx: RunContext, row: dict[str, Any], low: Any, high: Any) -> Finding:
        target = self.params.target
        actual = row.get("driver_value")
        expected = low if low == high else f"between {normalize_value(low)} and {normalize_value(high)}"
        captured = self.capture(ctx, self.params.driver.source, row)
        evidence = {
            "row": captured,
            "expected": f"{self.params.driver.value} = {target.value} of {target.label()} "
                        f"(tolerance {self.params.tolerance:g})",
            "actual": f"{normalize_value(actual)} vs "
                      f"{'no matching row' if low is None else normalize_value(expected)}",
            "driver_value": normalize_value(actual),
            "target_value": normalize_value(low) if low == high else [normalize_value(low), normalize_value(high)],
        }
        if low is not None and low == high and _number(actual) is not None and _number(low) is not None:
            evidence["difference"] = normalize_value(_number(actual) - _number(low))
        return Finding(key=tuple(row[c] for c in self.key_columns), evidence=evidence, trace_id=self.trace_of(row))


def _number(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None

