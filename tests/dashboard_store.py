"""A demo shop checked once and shared by the dashboard tests (AppTest and the browser)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from concord.clock import FrozenClock
from concord.store import open_store
from concord.store.schema import violations
from demo.runner import build_shop, check_and_score
from demo.simulator import FIRST_CHECK

HOSTILE_KEY = '=HYPERLINK("http://evil.example","click")'
HOSTILE_VALUE = "<script>alert(1)</script>"


def build_checked_demo(directory: Path, orders: int = 2000) -> Path:
    """The demo after both checks, plus one violation whose business values are hostile."""
    shop = build_shop(directory, 21, orders)
    check_and_score(shop)
    shop.dispose()
    config_path = shop.config_path
    store = open_store(f"sqlite:///{directory / 'concord.db'}")
    at = FrozenClock(FIRST_CHECK).now().replace(tzinfo=None)
    with store.begin() as connection:
        connection.execute(violations.insert().values(
            fingerprint="hostile000000000000000000"[:24], rule="order_status_is_known", key_text='["x"]',
            key_display=HOSTILE_KEY, severity="low", status="open", first_seen=at, last_seen=at,
            evidence=json.dumps({"row": {"status": HOSTILE_VALUE, "note": HOSTILE_KEY},
                                 "expected": "status in the known set", "actual": HOSTILE_VALUE}),
            occurrences=1, reopen_count=0))
    store.dispose()
    return config_path


def hostile_id(directory: Path) -> int:
    store = open_store(f"sqlite:///{directory / 'concord.db'}")
    with store.read() as connection:
        found = connection.execute(select(violations.c.id).where(violations.c.key_display == HOSTILE_KEY)).scalar()
    store.dispose()
    return int(found)


def add_violation(directory: Path, rule: str, key: str) -> None:
    """A violation seen later than every other, so it sorts first: the rows below it shift down."""
    store = open_store(f"sqlite:///{directory / 'concord.db'}")
    at = FrozenClock(FIRST_CHECK).now().replace(tzinfo=None) + timedelta(hours=1)
    with store.begin() as connection:
        connection.execute(violations.insert().values(
            fingerprint=f"late{key}".ljust(24, "0")[:24], rule=rule, key_text=f"[{key}]", key_display=key,
            severity="critical", status="open", first_seen=at, last_seen=at, evidence="{}", occurrences=1,
            reopen_count=0))
    store.dispose()
