"""The violation lifecycle across runs: open, seen again, resolved with its time to consistency,
reopened; people's actions with notes; and an errored run that changes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from concord.clock import FrozenClock
from concord.store.actions import apply_action
from concord.store.queries import count_needing_attention, events_of
from concord.store.schema import runs, violation_events, violations
from tests.conftest import NOW
from tests.databases import DatabaseFactory
from tests.shop import RULES, checker_for, load_mini_shop, write_config


def _snapshot(store) -> list[tuple]:
    with store.read() as connection:
        rows = connection.execute(select(violations).order_by(violations.c.id)).all()
        events = connection.execute(select(func.count()).select_from(violation_events)).scalar()
    return [tuple(r) for r in rows] + [("events", events)]


def _shop(sqlite: DatabaseFactory, tmp_path: Path, rules: list[dict]) -> tuple:
    url = sqlite.new("shop")
    urls = {"orders": url, "payments": url, "inventory": url}
    load_mini_shop(urls)
    clock = FrozenClock(NOW)
    checker, store = checker_for(write_config(tmp_path, urls, rules), clock)
    return url, clock, checker, store


def _order_two(store):
    with store.read() as connection:
        return connection.execute(select(violations).where(violations.c.key_text == "[2]")).one()


def test_open_update_resolve_reopen_with_time_to_consistency(sqlite: DatabaseFactory, tmp_path: Path) -> None:
    url, clock, checker, store = _shop(sqlite, tmp_path, [RULES["exists"]])
    checker.check_once()
    with store.read() as connection:
        (violation,) = connection.execute(select(violations)).all()
    assert (violation.status, violation.key_text, violation.occurrences) == ("open", "[2]", 1)

    clock.advance(timedelta(minutes=1))
    checker.check_once()  # seen again by the recheck: still open, seen twice, not duplicated
    with store.read() as connection:
        (violation,) = connection.execute(select(violations)).all()
    assert violation.occurrences == 2

    writer = create_engine(url)
    with writer.begin() as connection:  # the data converges: the deduction lands
        connection.execute(text("INSERT INTO stock_ledger VALUES (99, 2, 1, 'S1', 'DEDUCT', 2, :at)"),
                           {"at": NOW.replace(tzinfo=None)})
    clock.advance(timedelta(minutes=9))
    checker.check_once()
    violation = _order_two(store)
    assert violation.status == "resolved"
    assert violation.ttc_seconds == 600.0

    with writer.begin() as connection:  # and diverges again
        connection.execute(text("DELETE FROM stock_ledger WHERE id = 99"))
    clock.advance(timedelta(minutes=1))
    checker.check_once(full=True)
    violation = _order_two(store)
    with store.read() as connection:
        actions = [e["action"] for e in events_of(connection, violation.id)]
    assert (violation.status, violation.reopen_count) == ("open", 1)
    assert actions == ["opened", "resolved", "reopened"]
    writer.dispose()
    checker.close()


def test_acknowledged_and_muted_do_not_count_until_the_mute_ends(sqlite: DatabaseFactory, tmp_path: Path) -> None:
    _url, clock, checker, store = _shop(sqlite, tmp_path, [RULES["exists"], RULES["not_exists"]])
    checker.check_once()
    with store.begin() as connection:
        ids = dict(connection.execute(select(violations.c.rule, violations.c.id)).all())
        assert apply_action(connection, "acknowledge", [ids["paid_implies_deducted"]], "alice", clock.now(),
                            note="looking") == [ids["paid_implies_deducted"]]
        apply_action(connection, "mute", [ids["cancelled_not_deducted"]], "bob", clock.now(), note="known",
                     until=clock.now() + timedelta(hours=1))
    with store.read() as connection:
        assert count_needing_attention(connection, clock.now()) == 0
        assert count_needing_attention(connection, clock.now() + timedelta(hours=2)) == 1
        events = events_of(connection, ids["cancelled_not_deducted"])
    assert (events[-1]["actor"], events[-1]["action"], events[-1]["note"]) == ("bob", "muted", "known")
    clock.advance(timedelta(hours=2))
    checker.check_once()
    with store.read() as connection:
        status = connection.execute(select(violations.c.status).where(
            violations.c.id == ids["cancelled_not_deducted"])).scalar()
    assert status == "open"  # the mute ran out while the fault persists
    checker.close()


def test_people_resolve_by_id_and_only_from_allowed_states(sqlite: DatabaseFactory, tmp_path: Path) -> None:
    _url, clock, checker, store = _shop(sqlite, tmp_path, [RULES["exists"]])
    checker.check_once()
    with store.begin() as connection:
        (vid,) = connection.execute(select(violations.c.id)).scalars().all()
        assert apply_action(connection, "resolve", [vid], "carol", clock.now(), note="fixed by hand") == [vid]
        assert apply_action(connection, "acknowledge", [vid], "carol", clock.now()) == []
    checker.close()


def test_an_errored_run_changes_no_violation(sqlite: DatabaseFactory, tmp_path: Path) -> None:
    """The target source goes away in the middle of a cross-source run: nothing is opened or resolved."""
    orders, payments, inventory = sqlite.new("orders"), sqlite.new("payments"), sqlite.new("inventory")
    urls = {"orders": orders, "payments": payments, "inventory": inventory}
    load_mini_shop(urls)
    clock = FrozenClock(NOW)
    checker, store = checker_for(write_config(tmp_path, urls, [RULES["exists"]]), clock)
    checker.check_once()
    before = _snapshot(store)
    assert len(before) == 2  # one violation (order 2) and its events

    writer = create_engine(orders)
    with writer.begin() as connection:  # order 2 converges, so a successful run would resolve it ...
        connection.execute(text("UPDATE orders SET status = 'REFUNDED' WHERE id = 2"))
    writer.dispose()
    inventory_file = Path(inventory.removeprefix("sqlite:///"))

    def pull_the_plug(kind, rows):  # ... but the inventory database disappears after the first page
        checker.source("inventory").dispose()
        inventory_file.unlink(missing_ok=True)

    checker.after_page = pull_the_plug
    clock.advance(timedelta(minutes=5))
    outcomes = checker.check_once(full=True)
    assert [o.status for o in outcomes] == ["error"]
    assert "inventory" in outcomes[0].error
    assert _snapshot(store) == before
    with store.read() as connection:
        last = connection.execute(select(runs).order_by(runs.c.id.desc())).first()
    assert (last.status, last.error) == ("error", outcomes[0].error)
    checker.close()
