"""Direct notifications through apprise to a local JSON webhook: grouping, silence for acknowledged and
muted violations, retries, rate limits, the idempotency key, a crash between change and send, and the
messages built for channels this machine cannot reach."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from alerts.dispatcher import Dispatcher
from alerts.messages import build_message
from alerts.send import with_idempotency
from checks.engine import Checker
from checks.registry import compile_rules
from concord.clock import FrozenClock
from concord.config import load_config
from concord.errors import ConfigError
from concord.notify_urls import check_apprise_url
from concord.store import open_store
from concord.store.actions import apply_action
from concord.store.schema import alert_outbox, notifications, violations
from tests.conftest import NOW
from tests.webhook import Webhook

BURST = 60


@pytest.fixture
def hook() -> Iterator[Webhook]:
    webhook = Webhook()
    yield webhook
    webhook.close()


def burst_shop(directory: Path) -> str:
    """60 paid orders, none deducted: one run opens 60 violations of one rule at once."""
    path = directory / "shop.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, paid_at TEXT)")
    connection.execute("CREATE TABLE stock_ledger (id INTEGER PRIMARY KEY, order_id INTEGER, op TEXT)")
    connection.executemany("INSERT INTO orders VALUES (?, 'PAID', '2026-11-20 10:00:00')",
                           [(i,) for i in range(1, BURST + 1)])
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def write_config(directory: Path, url: str, hook: Webhook, **alerts: Any) -> Path:
    channel = {"url": f"json://127.0.0.1:{hook.port}/hook", **alerts.pop("channel", {})}
    config = {
        "dashboard_url": "https://concord.test",
        "store": {"url": f"sqlite:///{directory / 'store.db'}"},
        "sources": {"shop": {"url": url, "timezone": "UTC"}},
        "alerts": {"group_wait": "0s", "retry": "30s", "channels": {"oncall": channel}, **alerts},
        "rules": [
            {"name": "paid_implies_deducted", "kind": "exists", "severity": "critical",
             "runbook": "https://wiki.test/runbooks/deduct", "owner": "team-inventory",
             "driver": {"source": "shop", "table": "orders", "key": "id", "where": "status = 'PAID'"},
             "target": {"source": "shop", "table": "stock_ledger", "match": {"order_id": "id"},
                        "where": "op = 'DEDUCT'"}},
            {"name": "status_is_pending", "kind": "state", "severity": "high", "source": "shop", "table": "orders",
             "key": "id", "column": "status", "allowed": ["PENDING"]},
        ],
    }
    path = directory / "concord.yaml"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


class Setup:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.config, document = load_config(path)
        self.store = open_store(self.config.store.url, self.config.base_dir)
        self.clock = FrozenClock(NOW)
        self.checker = Checker(self.config, compile_rules(self.config, document), self.store, self.clock)
        self.dispatcher = Dispatcher(self.config, self.store, self.clock)

    def check(self, rules: list[str] | None = None) -> None:
        assert all(o.status == "ok" for o in self.checker.check_once(rules, full=True))

    def close(self) -> None:
        self.checker.close()
        self.store.dispose()


@pytest.fixture
def setup(tmp_path: Path, hook: Webhook) -> Iterator[Setup]:
    made = Setup(write_config(tmp_path, burst_shop(tmp_path), hook))
    yield made
    made.close()


def test_a_burst_is_one_message_with_the_first_keys_and_links(setup: Setup, hook: Webhook) -> None:
    setup.check(["paid_implies_deducted"])
    result = setup.dispatcher.drain()
    assert (result.grouped, result.sent, result.failed) == (1, 1, 0)
    (request,) = hook.wait_for(1)
    payload = request["json"]
    assert payload["title"] == f"[CRITICAL] paid_implies_deducted: {BURST} violations opened"
    body = payload["message"]
    assert f"**Keys ({BURST}):** 1; 2; 3; 4; 5 and {BURST - 5} more" in body
    assert "https://concord.test/violations?rule=paid_implies_deducted&status=open" in body
    assert "expected a row in shop.stock_ledger" in body  # the root-cause hint of the first key
    assert "https://wiki.test/runbooks/deduct" in body and "team-inventory" in body
    key = payload["idempotency_key"]
    assert request["headers"]["Idempotency-Key"] == key and f"Idempotency key: {key}" in body
    assert payload["type"] == "failure"
    assert setup.dispatcher.drain().sent == 0  # nothing twice
    assert setup.dispatcher.purge() == 0  # a day's history is kept
    setup.clock.advance(timedelta(days=31))
    assert setup.dispatcher.purge() == BURST + 1  # the outbox rows and the sent notification


def test_one_violation_links_to_itself(setup: Setup, hook: Webhook, tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "shop.db")
    connection.execute("INSERT INTO stock_ledger (order_id, op) SELECT id, 'DEDUCT' FROM orders WHERE id > 1")
    connection.commit()
    connection.close()
    setup.check(["paid_implies_deducted"])
    setup.dispatcher.drain()
    (request,) = hook.wait_for(1)
    with setup.store.read() as connection:
        violation_id = connection.execute(select(violations.c.id)).scalar_one()
    assert request["json"]["title"] == "[CRITICAL] paid_implies_deducted: 1 violation opened"
    assert f"https://concord.test/?violation={violation_id}" in request["json"]["message"]


def test_acknowledged_or_muted_violations_are_not_alerted(setup: Setup, hook: Webhook) -> None:
    setup.check(["paid_implies_deducted"])
    with setup.store.begin() as connection:
        ids = connection.execute(select(violations.c.id).order_by(violations.c.id)).scalars().all()
        apply_action(connection, "acknowledge", ids[: BURST // 2], "alice", NOW, note="on it")
        apply_action(connection, "mute", ids[BURST // 2:], "bob", NOW, note="known", until=NOW + timedelta(days=1))
    result = setup.dispatcher.drain()
    assert (result.grouped, result.sent) == (0, 0)
    assert hook.wait_for(1, timeout=1.0) == []
    setup.clock.advance(timedelta(minutes=5))
    setup.check(["paid_implies_deducted"])  # still failing, still acknowledged or muted: still quiet
    assert setup.dispatcher.drain().sent == 0 and hook.requests == []


def test_a_failed_send_is_retried_with_backoff_under_the_same_key(setup: Setup, hook: Webhook) -> None:
    hook.fail_next = 2
    setup.check(["paid_implies_deducted"])
    assert setup.dispatcher.drain().failed == 1
    with setup.store.read() as connection:
        row = connection.execute(select(notifications)).one()
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == NOW.replace(tzinfo=None) + timedelta(seconds=30)
    assert "did not accept the message" in row.last_error and str(hook.port) not in row.last_error
    assert setup.dispatcher.drain().failed == 0  # not due yet: nothing is tried
    setup.clock.advance(timedelta(seconds=30))
    assert setup.dispatcher.drain().failed == 1  # second failure: the wait doubles
    with setup.store.read() as connection:
        row = connection.execute(select(notifications)).one()
    assert row.next_attempt_at == NOW.replace(tzinfo=None) + timedelta(seconds=30 + 60)
    setup.clock.advance(timedelta(seconds=60))
    assert setup.dispatcher.drain().sent == 1
    (request,) = hook.wait_for(1)
    assert request["json"]["idempotency_key"] == row.idempotency_key


def test_a_channel_is_rate_limited_and_nothing_is_dropped(tmp_path: Path, hook: Webhook) -> None:
    made = Setup(write_config(tmp_path, burst_shop(tmp_path), hook, channel={"max_per_minute": 1}))
    try:
        made.check()  # two rules fail: two messages due at once
        assert made.dispatcher.drain().sent == 1
        assert made.dispatcher.drain().sent == 0
        made.clock.advance(timedelta(seconds=61))
        assert made.dispatcher.drain().sent == 1
        titles = sorted(r["json"]["title"] for r in hook.wait_for(2))
        assert titles == [f"[CRITICAL] paid_implies_deducted: {BURST} violations opened",
                          f"[HIGH] status_is_pending: {BURST} violations opened"]
    finally:
        made.close()


def test_channels_filter_by_severity_and_announce_resolves_when_asked(tmp_path: Path, hook: Webhook) -> None:
    made = Setup(write_config(tmp_path, burst_shop(tmp_path), hook,
                              channel={"severities": ["critical"], "on": ["opened", "resolved"]}))
    try:
        made.check()
        assert made.dispatcher.drain().sent == 1  # the high-severity rule is not for this channel
        connection = sqlite3.connect(tmp_path / "shop.db")
        connection.execute("INSERT INTO stock_ledger (order_id, op) SELECT id, 'DEDUCT' FROM orders")
        connection.commit()
        connection.close()
        made.clock.advance(timedelta(minutes=1))
        made.check(["paid_implies_deducted"])
        assert made.dispatcher.drain().sent == 1
        resolved = hook.wait_for(2)[1]["json"]
        assert resolved["title"] == f"[CRITICAL] paid_implies_deducted: {BURST} violations resolved"
        assert resolved["type"] == "success"
        assert "status=resolved" in resolved["message"]
    finally:
        made.close()


def test_events_wait_for_their_group_window(tmp_path: Path, hook: Webhook) -> None:
    made = Setup(write_config(tmp_path, burst_shop(tmp_path), hook, group_wait="2m"))
    try:
        made.check(["paid_implies_deducted"])
        result = made.dispatcher.drain()
        assert (result.sent, result.waiting) == (0, BURST)
        made.clock.advance(timedelta(minutes=2))
        assert made.dispatcher.drain().sent == 1
    finally:
        made.close()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "concord.cli", *args]


def test_a_notifier_killed_before_the_send_delivers_after_restart_once_per_key(tmp_path: Path,
                                                                               hook: Webhook) -> None:
    """Real processes: the checker commits the change and its outbox row; the notifier is SIGKILLed inside
    the group window, before any send; a new notifier delivers. Then a crash between send and mark is
    replayed (the row set back to pending, as a kill at that instant leaves it): the resend carries the
    same idempotency key, so a receiver that keeps one message per key shows each alert once."""
    config = write_config(tmp_path, burst_shop(tmp_path), hook, group_wait="3s")
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    notifier = subprocess.Popen(_cli("notify", "-c", str(config)), env=env, stderr=subprocess.PIPE)
    try:
        subprocess.run(_cli("check", "--once", "-c", str(config)), env=env, capture_output=True, timeout=60)
        store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
        with store.read() as connection:
            assert len(connection.execute(select(alert_outbox)).all()) == 2 * BURST
        time.sleep(1.0)
    finally:
        notifier.send_signal(signal.SIGKILL)
        notifier.wait()
    assert hook.requests == []  # killed after the lifecycle change, before any send
    restarted = subprocess.run(_cli("notify", "--once", "-c", str(config)), env=env, capture_output=True,
                               text=True, timeout=60)
    if not hook.requests:  # the group window had not passed yet: the next round sends
        time.sleep(3.0)
        restarted = subprocess.run(_cli("notify", "--once", "-c", str(config)), env=env, capture_output=True,
                                   text=True, timeout=60)
    assert restarted.returncode == 0, restarted.stderr
    delivered = hook.wait_for(2)
    assert len(delivered) == 2
    with store.begin() as connection:  # as if killed after the send, before it was marked sent
        connection.execute(update(notifications).values(state="pending", sent_at=None))
    store.dispose()
    subprocess.run(_cli("notify", "--once", "-c", str(config)), env=env, capture_output=True, timeout=60)
    delivered = hook.wait_for(4)
    keys = [r["headers"]["Idempotency-Key"] for r in delivered]
    assert len(delivered) == 4 and len(set(keys)) == 2  # at least once; once per key
    assert {r["json"]["title"].split(":")[0] for r in delivered} == {"[CRITICAL] paid_implies_deducted",
                                                                   "[HIGH] status_is_pending"}


CHANNELS = {
    "slack": "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#oncall",
    "feishu": "feishu://8a6c2d1e-3f4b-4c5d-9e6f-7a8b9c0d1e2f",
    "dingtalk": "dingtalk://a4bcd5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4/",
    "teams": "workflow://prod-01.westus.logic.azure.com:443/workflows/aaa/triggers/manual/paths/invoke/",
    "email": "mailtos://oncall:secret@mail.example.com?to=oncall@example.com",
    "pagerduty": "pagerduty://integration1key@apikey123",
    "opsgenie": "opsgenie://apikey-123456/@oncall-team",
    "webhook": "json://hooks.example.com/concord",
}


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_apprise_accepts_each_kind_of_channel(name: str) -> None:
    check_apprise_url(CHANNELS[name])


def test_the_message_for_an_unreachable_channel_and_where_the_key_goes(setup: Setup) -> None:
    setup.check(["paid_implies_deducted"])
    setup.dispatcher.group()
    with setup.store.read() as connection:
        row = connection.execute(select(notifications)).one()
        first = connection.execute(select(violations).order_by(violations.c.id).limit(1)).one()._mapping
    message = build_message(setup.config, setup.config.rule("paid_implies_deducted"), "opened",
                            [dict(first)], "k1")
    assert message.title == "[CRITICAL] paid_implies_deducted: 1 violation opened"
    assert row.body.endswith(f"Idempotency key: {row.idempotency_key}")
    assert with_idempotency(CHANNELS["slack"], "k1") == CHANNELS["slack"]  # the key travels in the text
    assert "%2BIdempotency-Key=k1" in with_idempotency(CHANNELS["webhook"], "k1")


def test_a_channel_url_apprise_rejects_is_a_config_error_with_its_line(tmp_path: Path, hook: Webhook) -> None:
    path = tmp_path / "concord.yaml"
    path.write_text("sources: {}\nrules: []\nalerts:\n  channels:\n    oncall:\n      url: nope://x\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert "concord.yaml:6 at alerts.channels.oncall.url: apprise does not accept" in str(problem)


def test_alerts_test_reports_each_channel(tmp_path: Path, hook: Webhook) -> None:
    config = json.loads(write_config(tmp_path, burst_shop(tmp_path), hook).read_text())
    config["alerts"]["channels"]["down"] = {"url": "json://127.0.0.1:9/nowhere"}
    path = tmp_path / "concord.yaml"
    path.write_text(json.dumps(config))
    result = subprocess.run(_cli("alerts", "test", "-c", str(path)), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "ok      oncall (json://127.0.0.1/…)" in result.stdout
    assert "FAILED  down (json://127.0.0.1/…)" in result.stdout and "1 of 2 channel(s) reached" in result.stdout
    (request,) = hook.wait_for(1)
    assert request["json"]["title"] == "[TEST] Concord can reach this channel"
