"""Value expressions of `match` rules: a column, or an aggregate such as `sum(quantity)` or `count(*)`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func

from collectors.tables import column

_AGGREGATE = re.compile(r"^\s*(sum|count|min|max|avg)\s*\(\s*(\*|[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.IGNORECASE)
_COLUMN = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*$")


@dataclass(frozen=True)
class ValueExpr:
    column: str | None  # None for count(*)
    aggregate: str | None  # sum | count | min | max | avg, or None for a plain column

    @property
    def is_aggregate(self) -> bool:
        return self.aggregate is not None

    def sql(self, table: Any) -> Any:
        """The SQL expression; plain columns are aggregated with max() where a group needs one value."""
        target = column(table, self.column) if self.column else None
        if self.aggregate is None:
            return target
        if target is None:
            return func.count()
        return getattr(func, self.aggregate)(target)

    def __str__(self) -> str:
        return f"{self.aggregate}({self.column or '*'})" if self.aggregate else str(self.column)


def parse_value(text: str) -> ValueExpr:
    match = _AGGREGATE.match(text)
    if match:
        name, argument = match.group(1).lower(), match.group(2)
        if argument == "*" and name != "count":
            raise ValueError(f"'{text}': only count(*) may take '*'; name a column, e.g. {name}(amount)")
        return ValueExpr(column=None if argument == "*" else argument, aggregate=name)
    if _COLUMN.match(text):
        return ValueExpr(column=text.strip(), aggregate=None)
    raise ValueError(f"'{text}' is not a value; write a column name or one of sum(col), count(*), count(col), "
                     "min(col), max(col), avg(col)")
