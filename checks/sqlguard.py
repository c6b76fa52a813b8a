"""Refuses user SQL that is anything but one read-only SELECT, by parsing it, not by pattern matching.

The read-only session is the real wall; this is the door check that gives a clear error at
`concord validate` time instead of a database error at 3 a.m.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from concord.errors import UnsafeQueryError

_SQLGLOT_DIALECT = {"mysql": "mysql", "mariadb": "mysql", "postgresql": "postgres", "sqlite": "sqlite"}
_FORBIDDEN = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command,
              exp.Into, exp.Lock, exp.Transaction, exp.Commit, exp.Rollback, exp.Set, exp.Use, exp.TruncateTable)


def sqlglot_dialect(backend: str) -> str | None:
    return _SQLGLOT_DIALECT.get(backend)


def check_select(sql: str, backend: str | None = None) -> exp.Expression:
    """Return the parsed query, or raise UnsafeQueryError saying what to change."""
    dialect = sqlglot_dialect(backend) if backend else None
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        raise UnsafeQueryError(f"the query could not be parsed as one read-only SELECT ({_first_line(exc)}); "
                               "write a single SELECT without INTO, FOR UPDATE or data changes") from None
    if len(statements) != 1:
        raise UnsafeQueryError(f"the query holds {len(statements)} statements; write exactly one SELECT")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise UnsafeQueryError(f"the query is a {statement.key.upper()}, not a SELECT; Concord only reads")
    for node in statement.walk():
        if isinstance(node, _FORBIDDEN):
            raise UnsafeQueryError(f"the query contains {_describe(node)}; Concord only runs read-only SELECTs, "
                                   "so remove it")
    return statement


def check_condition(where: str, backend: str | None = None) -> None:
    """A rule's `where:` must be a plain boolean expression."""
    check_select(f"SELECT 1 FROM concord_where_check WHERE {where}", backend)


def _describe(node: exp.Expression) -> str:
    if isinstance(node, exp.Lock):
        return "a locking clause (FOR UPDATE / FOR SHARE)"
    if isinstance(node, exp.Into):
        return "SELECT ... INTO"
    return f"a {node.key.upper()} statement"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200]
