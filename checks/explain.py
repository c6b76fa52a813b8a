"""`concord explain RULE`: the SQL a rule sends to each source, and each database's own plan for it, so
the operators of a production database can see the cost before the rule runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from checks.engine import Checker
from checks.kinds.base import RuleKind
from checks.model import RunContext
from concord.errors import SourceError
from concord.sources import Source

EXPLAIN_PREFIX = {"sqlite": "EXPLAIN QUERY PLAN ", "mysql": "EXPLAIN ", "mariadb": "EXPLAIN ",
                  "postgresql": "EXPLAIN "}


@dataclass
class Explained:
    source: str
    purpose: str
    sql: str
    plan: list[str]


def explain(checker: Checker, kind: RuleKind, full: bool = False, run_explain: bool = True) -> list[Explained]:
    scope = checker.scope_for(kind, full)
    context = RunContext(sources={n: checker.source(n) for n in kind.source_names}, scope=scope,
                         now=checker.clock.now())
    explained = []
    for planned in kind.plan(context):
        source = checker.source(planned.source)
        sql, args = compiled(planned.statement, source)
        plan = database_plan(source, sql, args) if run_explain else []
        explained.append(Explained(planned.source, planned.purpose, shown(planned.statement, source, sql), plan))
    return explained


def compiled(statement: Any, source: Source) -> tuple[str, Any]:
    """The statement in the source's dialect, with its parameters in the driver's own form."""
    result = statement.compile(dialect=source.engine.dialect, compile_kwargs={"render_postcompile": True})
    params = result.params
    if result.positional:
        return str(result), tuple(params[name] for name in result.positiontup or [])
    return str(result), params


def shown(statement: Any, source: Source, fallback: str) -> str:
    """With values inlined where the dialect can render them, for reading; else with placeholders."""
    try:
        return str(statement.compile(dialect=source.engine.dialect, compile_kwargs={"literal_binds": True}))
    except Exception:  # noqa: BLE001 - some values (datetimes on some dialects) have no literal form
        return fallback


def database_plan(source: Source, sql: str, args: Any) -> list[str]:
    prefix = EXPLAIN_PREFIX.get(source.dialect_name)
    if prefix is None:
        return [f"(no EXPLAIN for {source.dialect_name})"]
    try:
        with source.connect() as connection:
            rows = connection.exec_driver_sql(prefix + sql, args).all()
    except (SourceError, SQLAlchemyError) as exc:
        return [f"(EXPLAIN failed: {str(exc).splitlines()[0]})"]
    return [" | ".join("" if v is None else str(v) for v in row) for row in rows]
