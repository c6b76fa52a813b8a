"""The simulated world as a list of writes in time order, and its state at any moment.

Each service's write is recorded with the business time it carries and the time it was
committed (a late commit carries an old time but becomes visible later), so the demo can build
the databases as they were at the first check and move them forward for the second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("id",),
    "order_items": ("order_id", "line_no"),
    "order_status_history": ("id",),
    "payments": ("id",),
    "refunds": ("id",),
    "stock_ledger": ("id",),
    "gateway_charges": ("txn_id",),
}


@dataclass
class Write:
    committed_at: datetime
    table: str
    op: str  # insert | update | delete
    row: dict[str, Any]

    @property
    def pk(self) -> tuple[Any, ...]:
        return tuple(self.row[c] for c in PRIMARY_KEYS[self.table])


@dataclass
class Timeline:
    writes: list[Write] = field(default_factory=list)

    def add(self, committed_at: datetime, table: str, change: str, row: dict[str, Any]) -> None:
        self.writes.append(Write(committed_at, table, change, row))

    def state_at(self, moment: datetime) -> dict[str, dict[tuple, dict[str, Any]]]:
        """Every table's rows as committed up to `moment`."""
        state: dict[str, dict[tuple, dict[str, Any]]] = {name: {} for name in PRIMARY_KEYS}
        for write in sorted((w for w in self.writes if w.committed_at <= moment), key=lambda w: w.committed_at):
            rows = state[write.table]
            if write.op == "insert":
                rows[write.pk] = dict(write.row)
            elif write.op == "update" and write.pk in rows:
                rows[write.pk].update(write.row)
            elif write.op == "delete":
                rows.pop(write.pk, None)
        return state


def diff(before: dict[str, dict[tuple, dict]], after: dict[str, dict[tuple, dict]]) -> dict[str, dict[str, list]]:
    """Rows to insert, update and delete to turn one state into the other, per table."""
    changes: dict[str, dict[str, list]] = {}
    for table, rows in after.items():
        old = before.get(table, {})
        changes[table] = {
            "insert": [row for pk, row in rows.items() if pk not in old],
            "update": [row for pk, row in rows.items() if pk in old and old[pk] != row],
            "delete": [old[pk] for pk in old if pk not in rows],
        }
    return changes
