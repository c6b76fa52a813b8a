"""`concord validate --connect`: before a rule runs, check that its tables and columns exist and that
the columns it filters, pages and looks up by have an index, so database operators see the cost first."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import inspect

from checks.kinds.base import RuleKind
from concord.errors import SourceError
from concord.sources import Source


@dataclass(frozen=True)
class TableUse:
    """How a rule uses one table: the columns it reads, and the column lists it needs an index on."""

    source: str
    table: str
    schema: str | None
    columns: tuple[str, ...]
    indexed: tuple[tuple[str, ...], ...]


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)


def table_uses(kind: RuleKind) -> list[TableUse]:
    """Derived from the kind's settings: keys page and recheck, time columns window, match columns look up."""
    params = kind.params
    uses: list[TableUse] = []

    def add(source: str, table: str | None, schema: str | None, columns: list[str | None],
            indexed: list[list[str | None]]) -> None:
        if not table:
            return
        uses.append(TableUse(source, table, schema, tuple(c for c in columns if c),
                             tuple(tuple(c for c in group if c) for group in indexed if any(group))))

    driver = getattr(params, "driver", None)
    target = getattr(params, "target", None)
    if driver is not None and target is not None:
        value = getattr(driver, "value", None)
        plain = [value] if value and "(" not in value else []
        add(driver.source, driver.table, driver.schema_name,
            [*driver.key, driver.time_column, *target.match.values(), *plain],
            [list(driver.key), [driver.time_column]])
        add(target.source, target.table, target.schema_name, list(target.match), [list(target.match)])
        return uses
    local = getattr(params, "local", None)
    if local is not None:
        add(local.source, local.table, local.schema_name, [*local.key, local.amount, local.time_column],
            [list(local.key), [local.time_column]])
        return uses
    transitions = getattr(params, "transitions", None)
    if getattr(params, "table", None):
        key = kind.key_columns
        add(params.source, params.table, getattr(params, "schema_name", None),
            [*key, getattr(params, "time_column", None), getattr(params, "column", None)],
            [list(key), [getattr(params, "time_column", None)]])
    if transitions is not None:
        add(params.source, transitions.table, transitions.schema_name,
            [*transitions.key_list, transitions.to_column, transitions.from_column, transitions.order_by],
            [[*transitions.key_list], [transitions.order_by]])
    return uses


def preflight(kinds: list[RuleKind], sources: dict[str, Source]) -> Report:
    report = Report()
    for kind in kinds:
        for use in table_uses(kind):
            where = f"rule {kind.name}: {use.source}.{use.table}"
            try:
                with sources[use.source].connect() as connection:
                    inspector = inspect(connection)
                    if not inspector.has_table(use.table, schema=use.schema):
                        report.errors.append(f"{where}: the table does not exist; fix the rule's 'table' or "
                                             "grant Concord's user SELECT on it")
                        continue
                    columns = {c["name"] for c in inspector.get_columns(use.table, schema=use.schema)}
                    indexes = [tuple(i["column_names"]) for i in inspector.get_indexes(use.table, schema=use.schema)]
                    primary = tuple(inspector.get_pk_constraint(use.table, schema=use.schema).get(
                        "constrained_columns") or ())
                    uniques = [tuple(u["column_names"]) for u in
                               inspector.get_unique_constraints(use.table, schema=use.schema)]
            except SourceError as exc:
                report.errors.append(f"{where}: {exc}")
                continue
            missing = [c for c in use.columns if c not in columns]
            if missing:
                report.errors.append(f"{where}: no column {', '.join(missing)} (it has {', '.join(sorted(columns))})")
                continue
            led = [index for index in [*indexes, primary, *uniques] if index]
            for wanted in use.indexed:
                if not any(index[:len(wanted)] == wanted for index in led):
                    report.warnings.append(f"{where}: no index starts with ({', '.join(wanted)}); the rule's "
                                           "queries on it will scan the table — add one, or accept the cost")
            report.checked.append(where)
    return report
