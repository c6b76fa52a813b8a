"""User SQL is refused unless it is exactly one read-only SELECT, decided by parsing, in each dialect."""

from __future__ import annotations

import pytest

from checks.sqlguard import check_select
from concord.errors import UnsafeQueryError


@pytest.mark.parametrize(("backend", "sql", "reason"), [
    ("postgresql", "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", "DELETE"),
    ("mysql", "SELECT * FROM orders FOR UPDATE", "locking clause"),
    ("postgresql", "SELECT * FROM orders FOR SHARE", "locking clause"),
    ("mysql", "SELECT * FROM orders INTO OUTFILE '/tmp/orders.csv'", "could not be parsed"),
    ("postgresql", "SELECT * INTO stolen FROM orders", "INTO"),
    ("sqlite", "SELECT 1; SELECT 2", "2 statements"),
    ("sqlite", "SELECT 1; DROP TABLE orders", "2 statements"),
    ("mysql", "UPDATE orders SET status = 'PAID'", "not a SELECT"),
    ("postgresql", "INSERT INTO orders SELECT * FROM orders", "not a SELECT"),
])
def test_refused(backend: str, sql: str, reason: str) -> None:
    with pytest.raises(UnsafeQueryError, match=reason):
        check_select(sql, backend)


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgresql"])
def test_plain_selects_pass(backend: str) -> None:
    check_select("WITH paid AS (SELECT id FROM orders WHERE status = 'PAID') "
                 "SELECT o.id AS order_id FROM orders o JOIN paid p ON p.id = o.id WHERE o.paid_at <= :cutoff "
                 "UNION SELECT 1", backend)
