"""Metrics read from the store at scrape time: the state of violations, rules and sources.

These are facts the store already holds, so they are read, not counted again in memory: they agree
with the dashboard by construction and survive restarts (a counter such as opened_total is the
number of `opened` events in the violations' history). A scrape runs a handful of GROUP BY queries
over indexed tables and is cached for a few seconds so that several scrapers cost one read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import case, func, select

from concord.config import Config
from concord.store.db import Store
from concord.store.health import source_states
from concord.store.schema import OPEN_STATUSES, notifications, runs, violation_events, violations

TTC_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 21600, 86400, 259200, 604800)
CACHE_SECONDS = 5.0


class StoreCollector:
    """A prometheus-client custom collector over the store; register it in the registry `/metrics` serves."""

    def __init__(self, config: Config, store: Store, started_at: float | None = None) -> None:
        self.config = config
        self.store = store
        self.started_at = started_at or time.time()
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > CACHE_SECONDS:
                self._cached = (time.monotonic(), self._read())
            yield from self._cached[1]

    def _read(self) -> list[Metric]:
        info = GaugeMetricFamily("concord_info", "Always 1; its labels carry the dashboard's base URL, which the "
                                 "alert rules join in to build their links.", labels=["dashboard_url", "version"])
        info.add_metric([self.config.dashboard_url.rstrip("/"), _version()], 1)
        up = GaugeMetricFamily("concord_store_up", "1 when the store answered this scrape's queries.")
        try:
            with self.store.read() as connection:
                families = [*self._violations(connection), *self._rules(connection), *self._sources(connection),
                            self._pending(connection)]
        except Exception:  # noqa: BLE001 - an unreachable store is itself the metric, not a failed scrape
            up.add_metric([], 0)
            return [info, up]
        up.add_metric([], 1)
        return [info, up, *families]

    def _violations(self, connection) -> list[Metric]:
        severity_of = {r.name: r.severity for r in self.config.rules}
        open_now = GaugeMetricFamily("concord_open_violations",
                                     "Violations not resolved, by rule, severity and status.",
                                     labels=["rule", "severity", "status"])
        counts = {(rule, severity_of.get(rule, "medium"), status): 0
                  for rule in severity_of for status in OPEN_STATUSES}
        rows = connection.execute(select(violations.c.rule, violations.c.severity, violations.c.status, func.count())
                                  .where(violations.c.status.in_(OPEN_STATUSES))
                                  .group_by(violations.c.rule, violations.c.severity, violations.c.status))
        for rule, severity, status, count in rows:
            counts[(rule, severity, status)] = count
        for labels, count in sorted(counts.items()):
            open_now.add_metric(list(labels), count)
        changes = {action: CounterMetricFamily(f"concord_violations_{action}",
                                               f"Violations {action}, over the store's whole history.",
                                               labels=["rule"])
                   for action in ("opened", "reopened", "resolved")}
        totals = {(rule, action): 0 for rule in severity_of for action in changes}
        rows = connection.execute(
            select(violations.c.rule, violation_events.c.action, func.count())
            .select_from(violation_events.join(violations, violations.c.id == violation_events.c.violation_id))
            .where(violation_events.c.action.in_(list(changes)))
            .group_by(violations.c.rule, violation_events.c.action))
        for rule, action, count in rows:
            totals[(rule, action)] = count
        for (rule, action), count in sorted(totals.items()):
            changes[action].add_metric([rule], count)
        return [open_now, *changes.values(), self._time_to_consistency(connection)]

    def _time_to_consistency(self, connection) -> Metric:
        histogram = HistogramMetricFamily("concord_time_to_consistency_seconds",
                                          "How long resolved violations stayed open before the data converged.",
                                          labels=["rule"])
        ttc = violations.c.ttc_seconds
        columns = [func.sum(case((ttc <= bound, 1), else_=0)) for bound in TTC_BUCKETS]
        rows = connection.execute(select(violations.c.rule, func.count(), func.sum(ttc), *columns)
                                  .where(ttc.is_not(None)).group_by(violations.c.rule))
        seen = set()
        for rule, count, total, *cumulative in rows:
            seen.add(rule)
            buckets = [(str(float(b)), int(c or 0)) for b, c in zip(TTC_BUCKETS, cumulative, strict=True)]
            histogram.add_metric([rule], buckets + [("+Inf", int(count))], float(total or 0))
        for rule in sorted({r.name for r in self.config.rules} - seen):
            histogram.add_metric([rule], [(str(float(b)), 0) for b in TTC_BUCKETS] + [("+Inf", 0)], 0.0)
        return histogram

    def _rules(self, connection) -> list[Metric]:
        """When each rule last ran and last succeeded, and its interval, for the "has not run" alert.

        A rule that has not succeeded since Concord started reports the start time, so the alert waits
        three intervals after a start instead of firing at once."""
        interval = GaugeMetricFamily("concord_rule_interval_seconds", "A rule's configured `every`.",
                                     labels=["rule"])
        last_run = GaugeMetricFamily("concord_rule_last_run_timestamp_seconds",
                                     "When a run of the rule last finished, whatever its outcome.", labels=["rule"])
        last_ok = GaugeMetricFamily("concord_rule_last_success_timestamp_seconds",
                                    "When a run of the rule last finished ok (or when Concord started, if later "
                                    "than any success).", labels=["rule"])
        rows = connection.execute(select(
            runs.c.rule, func.max(runs.c.finished_at),
            func.max(case((runs.c.status == "ok", runs.c.finished_at), else_=None))).group_by(runs.c.rule))
        finished = {rule: (any_at, ok_at) for rule, any_at, ok_at in rows}
        for rule in self.config.rules:
            any_at, ok_at = finished.get(rule.name, (None, None))
            interval.add_metric([rule.name], rule.every.total_seconds())
            last_run.add_metric([rule.name], _epoch(any_at) or 0.0)
            last_ok.add_metric([rule.name], max(_epoch(ok_at) or 0.0, self.started_at))
        return [interval, last_run, last_ok]

    def _sources(self, connection) -> list[Metric]:
        up = GaugeMetricFamily("concord_source_up", "0 while a source is failing (its rules are backed off).",
                               labels=["source"])
        failures = GaugeMetricFamily("concord_source_consecutive_failures",
                                     "Failed runs in a row because of this source.", labels=["source"])
        backoff = GaugeMetricFamily("concord_source_backoff_seconds",
                                    "Seconds until a failing source is tried again.", labels=["source"])
        states = source_states(connection)
        now = time.time()
        for name in self.config.sources:
            state = states.get(name, {})
            count = int(state.get("failures") or 0)
            up.add_metric([name], 0 if count else 1)
            failures.add_metric([name], count)
            retry = _epoch(state.get("retry_at")) if count else None
            backoff.add_metric([name], max(0.0, retry - now) if retry else 0.0)
        return [up, failures, backoff]

    def _pending(self, connection) -> Metric:
        pending = GaugeMetricFamily("concord_notifications_pending",
                                    "Direct notifications waiting to be sent (or retried), by channel.",
                                    labels=["channel"])
        counts = {name: 0 for name in self.config.alerts.channels}
        rows = connection.execute(select(notifications.c.channel, func.count())
                                  .where(notifications.c.state == "pending").group_by(notifications.c.channel))
        for channel, count in rows:
            counts[channel] = count
        for channel, count in sorted(counts.items()):
            pending.add_metric([channel], count)
        return pending


def _epoch(moment: datetime | None) -> float | None:
    """Store times are naive UTC."""
    return moment.replace(tzinfo=UTC).timestamp() if moment is not None else None


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("concord")
    except Exception:  # noqa: BLE001 - a source checkout without metadata still serves metrics
        return "unknown"
