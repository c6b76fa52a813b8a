"""Rule leases: several checker processes share one store and split the rules, never running one rule
twice at once. A lease has an owner, an expiry and a generation; whoever takes a lease over bumps the
generation, and every write of a run checks, in its own transaction, that its generation still holds,
so a checker that was paused past its lease cannot write over its successor's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from concord.store.db import Store
from concord.store.runs import naive_utc
from concord.store.schema import checkers, rule_leases


@dataclass(frozen=True)
class Lease:
    rule: str
    owner: str
    generation: int


class LostLease(Exception):
    """The lease passed to another checker: this run must not write."""


def acquire(store: Store, rule: str, owner: str, now: datetime, ttl: timedelta) -> Lease | None:
    """Take or renew the rule's lease; None when another live checker holds it."""
    at, until = naive_utc(now), naive_utc(now + ttl)
    try:
        with store.begin() as connection:
            row = connection.execute(select(rule_leases).where(rule_leases.c.rule == rule).with_for_update()).first()
            if row is None:
                connection.execute(rule_leases.insert().values(rule=rule, owner=owner, generation=1, expires_at=until))
                return Lease(rule, owner, 1)
            if row.owner != owner and row.expires_at > at:
                return None
            generation = row.generation if row.owner == owner else row.generation + 1
            connection.execute(rule_leases.update().where(rule_leases.c.rule == rule)
                               .values(owner=owner, generation=generation, expires_at=until))
            return Lease(rule, owner, generation)
    except IntegrityError:  # another checker inserted the first lease of this rule a moment earlier
        return None


def check_fence(connection: Connection, lease: Lease) -> None:
    """Inside a write transaction: raise LostLease unless this lease's generation still holds the rule."""
    row = connection.execute(select(rule_leases.c.owner, rule_leases.c.generation)
                             .where(rule_leases.c.rule == lease.rule).with_for_update()).first()
    if row is None or row.owner != lease.owner or row.generation != lease.generation:
        raise LostLease(f"the lease on rule {lease.rule} passed to {row.owner if row else 'nobody'}; "
                        "this run's results are discarded")


def release(store: Store, lease: Lease) -> None:
    """Give the lease up at once (clean shutdown), so another checker need not wait for it to expire."""
    with store.begin() as connection:
        connection.execute(rule_leases.delete().where(rule_leases.c.rule == lease.rule,
                                                      rule_leases.c.owner == lease.owner,
                                                      rule_leases.c.generation == lease.generation))


def heartbeat(store: Store, owner: str, now: datetime, ttl: timedelta) -> int:
    """Say this checker is alive; returns how many checkers are (itself included)."""
    at = naive_utc(now)
    with store.begin() as connection:
        updated = connection.execute(checkers.update().where(checkers.c.owner == owner).values(heartbeat_at=at))
        if not updated.rowcount:  # owners are unique per process, so no one else inserts this row
            connection.execute(checkers.insert().values(owner=owner, heartbeat_at=at))
        connection.execute(checkers.delete().where(checkers.c.heartbeat_at < naive_utc(now - 5 * ttl)))
        alive = connection.execute(select(checkers.c.owner).where(checkers.c.heartbeat_at > naive_utc(now - ttl)))
        return max(1, len(alive.all()))


def forget_checker(store: Store, owner: str) -> None:
    with store.begin() as connection:
        connection.execute(checkers.delete().where(checkers.c.owner == owner))
