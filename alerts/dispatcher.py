"""Draining the outbox: group, filter, render, rate-limit, send, retry.

Delivery is at least once. An outbox row is written with its lifecycle change; grouping turns rows into
one notification per channel, rule and event (with an idempotency key fixed from the rows it covers) in
one transaction; a notification is marked sent only after apprise returned. A crash before the send
sends it after the restart; a crash between the send and the mark sends it again with the same key,
which a receiver can drop.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from alerts.messages import build_message, idempotency_key
from alerts.send import SendFailed, apprise_send
from concord import metrics
from concord.clock import Clock
from concord.config import ChannelConfig, Config
from concord.store.db import Store
from concord.store.runs import naive_utc
from concord.store.schema import alert_outbox, notifications, violations

log = logging.getLogger("concord.alerts")
Sender = Callable[[str, str, str, str, str], None]  # url, title, body, idempotency key, event; raises on failure
BATCH = 5000
KEEP_HISTORY = timedelta(days=30)
# A violation acknowledged or muted since its event is not announced; nor one whose state moved on.
STILL_TRUE = {"opened": ("open",), "reopened": ("open",), "resolved": ("resolved",)}


@dataclass
class DrainResult:
    grouped: int = 0  # notifications created
    sent: int = 0
    failed: int = 0
    waiting: int = 0  # outbox rows still inside their group window


class _Contended(Exception):
    """Another notifier process grouped some of this round's outbox rows first."""


class Dispatcher:
    def __init__(self, config: Config, store: Store, clock: Clock, sender: Sender = apprise_send) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.sender = sender
        self.rules = {r.name: r for r in config.rules}

    def drain(self) -> DrainResult:
        result = DrainResult()
        self.group(result)
        self.send_due(result)
        return result

    # -- outbox → notifications ---------------------------------------------------------------------------------
    def group(self, result: DrainResult | None = None) -> DrainResult:
        result = result or DrainResult()
        now = naive_utc(self.clock.now())
        ready_before = now - self.config.alerts.group_wait
        try:
            with self.store.begin() as connection:
                self._group_in(connection, now, ready_before, result)
        except _Contended:
            log.info("another notifier grouped some of the same outbox rows; this round is left to it")
        return result

    def _group_in(self, connection: Any, now: datetime, ready_before: datetime, result: DrainResult) -> None:
        pending = connection.execute(select(alert_outbox).where(alert_outbox.c.grouped_at.is_(None))
                                     .order_by(alert_outbox.c.id).limit(BATCH)).all()
        groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for row in pending:
            groups[(row.rule, row.event)].append(row)
        for (rule, event), rows in groups.items():
            if min(r.at for r in rows) > ready_before:
                result.waiting += len(rows)
                continue  # the burst may still be growing: one message for all of it, later
            ids = [r.id for r in rows]
            taken = connection.execute(update(alert_outbox).where(
                alert_outbox.c.id.in_(ids), alert_outbox.c.grouped_at.is_(None)).values(grouped_at=now)).rowcount
            if taken != len(ids):
                raise _Contended  # roll the whole round back; the other notifier sends these
            result.grouped += self._notify_group(connection, rule, event, rows, now)

    def _notify_group(self, connection: Any, rule: str, event: str, rows: list[Any], now: datetime) -> int:
        config = self.rules.get(rule)
        if config is None:
            return 0  # the rule left the config; its old events are dropped
        ids = list(dict.fromkeys(r.violation_id for r in rows))
        found = {v.id: v._mapping for v in connection.execute(
            select(violations.c.id, violations.c.status, violations.c.key_display, violations.c.hint,
                   violations.c.evidence, violations.c.trace_ids).where(violations.c.id.in_(ids)))}
        current = [dict(found[i]) for i in ids if i in found and found[i]["status"] in STILL_TRUE[event]]
        if not current:
            return 0
        made = 0
        outbox_ids = [r.id for r in rows]
        for name, channel in self.config.alerts.channels.items():
            if not _wants(channel, rule, config.severity, event):
                continue
            key = idempotency_key(name, rule, event, outbox_ids)
            message = build_message(self.config, config, event, current, key)
            try:
                with connection.begin_nested():
                    connection.execute(notifications.insert().values(
                        idempotency_key=key, channel=name, rule=rule, event=event,
                        violation_ids=json.dumps([v["id"] for v in current]), title=message.title,
                        body=message.body, created_at=now, state="pending", attempts=0, next_attempt_at=now))
                made += 1
            except IntegrityError:
                log.info("notification %s already exists; not made twice", key)
        return made

    # -- notifications → channels ---------------------------------------------------------------------------------
    def send_due(self, result: DrainResult | None = None) -> DrainResult:
        result = result or DrainResult()
        now = naive_utc(self.clock.now())
        with self.store.read() as connection:
            due = connection.execute(select(notifications).where(
                notifications.c.state == "pending", notifications.c.next_attempt_at <= now)
                .order_by(notifications.c.id).limit(BATCH)).all()
        for row in due:
            channel = self.config.alerts.channels.get(row.channel)
            if channel is None:
                self._finish(row.id, state="failed", last_error="the channel left the config")
                continue
            wait_until = self._rate_limited(row.channel, channel, now)
            if wait_until is not None:
                with self.store.begin() as connection:
                    connection.execute(update(notifications).where(notifications.c.id == row.id)
                                       .values(next_attempt_at=wait_until))
                continue
            try:
                self.sender(channel.url, row.title, row.body, row.idempotency_key, row.event)
            except Exception as exc:  # noqa: BLE001 - any failure of a channel is retried, never fatal
                result.failed += 1
                self._failed(row, now, exc)
                continue
            self._finish(row.id, state="sent", sent_at=naive_utc(self.clock.now()), attempts=row.attempts + 1,
                         last_error=None)
            metrics.NOTIFICATIONS.labels(row.channel, "sent").inc()
            result.sent += 1
        return result

    def _rate_limited(self, name: str, channel: ChannelConfig, now: datetime) -> datetime | None:
        """When this channel may send next, if its last minute is full."""
        minute_ago = now - timedelta(minutes=1)
        with self.store.read() as connection:
            recent = connection.execute(select(notifications.c.sent_at).where(
                notifications.c.channel == name, notifications.c.sent_at > minute_ago)
                .order_by(notifications.c.sent_at)).scalars().all()
        if len(recent) < channel.max_per_minute:
            return None
        return recent[len(recent) - channel.max_per_minute] + timedelta(minutes=1)

    def _failed(self, row: Any, now: datetime, exc: Exception) -> None:
        attempts = row.attempts + 1
        error = str(exc) if isinstance(exc, SendFailed) else f"{type(exc).__name__}: {exc}"
        alerts = self.config.alerts
        if now - row.created_at >= alerts.give_up_after:
            log.error("giving up on notification %s to %s after %d attempts: %s", row.idempotency_key,
                      row.channel, attempts, error)
            metrics.NOTIFICATIONS.labels(row.channel, "given_up").inc()
            self._finish(row.id, state="failed", attempts=attempts, last_error=error[:2000])
            return
        wait = min(alerts.retry * (2 ** (attempts - 1)), alerts.retry_max)
        log.warning("notification %s to %s failed (attempt %d), retrying in %s: %s", row.idempotency_key,
                    row.channel, attempts, wait, error)
        metrics.NOTIFICATIONS.labels(row.channel, "failed").inc()
        self._finish(row.id, state="pending", attempts=attempts, next_attempt_at=now + wait, last_error=error[:2000])

    def _finish(self, notification_id: int, **values: Any) -> None:
        with self.store.begin() as connection:
            connection.execute(update(notifications).where(notifications.c.id == notification_id).values(**values))

    def purge(self, keep: timedelta = KEEP_HISTORY) -> int:
        """Forget grouped outbox rows and finished notifications older than `keep`: the violations'
        own history keeps what happened; these tables only need to outlive a restart and a retry."""
        before = naive_utc(self.clock.now()) - keep
        with self.store.begin() as connection:
            gone = connection.execute(alert_outbox.delete().where(alert_outbox.c.grouped_at < before)).rowcount
            gone += connection.execute(notifications.delete().where(
                notifications.c.state != "pending", notifications.c.created_at < before)).rowcount
        return gone


def _wants(channel: ChannelConfig, rule: str, severity: str, event: str) -> bool:
    return event in channel.on and severity in channel.severities and (not channel.rules or rule in channel.rules)
